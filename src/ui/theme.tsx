import { createContext, useContext, type ReactNode } from 'react';

/**
 * Colours by role, not by hue, so NO_COLOR (https://no-color.org: set and non-empty) turns every one off in one
 * place. Emphasis that is not colour (bold, inverse for the cursor row) stays, so the UI remains usable.
 */
export type Tone = 'accent' | 'good' | 'bad' | 'warn' | 'muted' | 'info';

const palette: Record<Tone, string> = {
  accent: 'cyan',
  good: 'green',
  bad: 'red',
  warn: 'yellow',
  muted: 'gray',
  info: 'blue',
};

export interface Theme {
  color: boolean;
}

const ThemeContext = createContext<Theme>({ color: true });

export function ThemeProvider({ theme, children }: { theme: Theme; children: ReactNode }) {
  return <ThemeContext.Provider value={theme}>{children}</ThemeContext.Provider>;
}

/** Returns a function mapping a tone to an ink colour, or undefined when colour is off. */
export function useTone(): (tone: Tone | undefined) => string | undefined {
  const { color } = useContext(ThemeContext);
  return (tone) => (color && tone ? palette[tone] : undefined);
}

export function colorEnabled(env: NodeJS.ProcessEnv): boolean {
  const v = env['NO_COLOR'];
  return v === undefined || v === '';
}
