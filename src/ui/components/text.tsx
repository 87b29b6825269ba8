import { Text as InkText, type TextProps } from 'ink';

/**
 * ink's Text whose `color` may be undefined: the theme gives no colour under NO_COLOR, and with
 * exactOptionalPropertyTypes an explicit undefined is not an absent prop. Absent or undefined: ink's default colour.
 */
export function Text({ color, ...rest }: Omit<TextProps, 'color'> & { color?: string | undefined }) {
  return <InkText {...rest} {...(color === undefined ? {} : { color })} />;
}
