import { useReducer, useRef } from 'react';
import { Box } from 'ink';
import { useKeys } from './use-keys.js';
import { Text } from './text.js';
import { commandFor, keyNames } from '../keys.js';
import { applyTextKey, textEdit, type TextEdit } from '../text-edit.js';
import { useTone } from '../theme.js';
import { TextField } from './text-field.js';

export interface FormField {
  name: string;
  label: string;
  value: string;
  /** when given, ←/→ cycle through these instead of typing */
  choices?: readonly string[];
  hint?: string;
}

interface Props {
  title: string;
  fields: readonly FormField[];
  /** Returns an error to show, or null when the values are good (the form then calls onSubmit). */
  validate: (values: Record<string, string>) => string | null;
  onSubmit: (values: Record<string, string>) => void;
  onCancel: () => void;
  width: number;
}

/** A short form of one-line fields: tab/↓ and shift+tab/↑ move, ctrl+s or enter submits, esc cancels. */
export function Form({ title, fields, validate, onSubmit, onCancel, width }: Props) {
  const tone = useTone();
  // Held in a ref, not state: several keys can arrive in one read, and each must see the previous one's effect.
  const state = useRef({ values: fields.map((f) => textEdit(f.value)), focus: 0, error: null as string | null });
  const [, redraw] = useReducer((n: number) => n + 1, 0);

  useKeys((input, key) => {
    const st = state.current;
    const field = fields[st.focus]!;
    const name = keyNames(input, key)[0] ?? '';
    redraw();
    if (field.choices) {
      if (name === 'left' || name === 'right') {
        const i = field.choices.indexOf(st.values[st.focus]!.value);
        const next = field.choices[(i + (name === 'right' ? 1 : field.choices.length - 1)) % field.choices.length]!;
        st.values = st.values.map((v, j) => (j === st.focus ? textEdit(next) : v));
        return;
      }
    } else {
      const next = applyTextKey(st.values[st.focus]!, input, key, false);
      if (next) {
        st.values = st.values.map((v, j) => (j === st.focus ? next : v));
        st.error = null;
        return;
      }
    }
    const cmd = commandFor('formText', name);
    if (cmd === 'nextField') st.focus = (st.focus + 1) % fields.length;
    else if (cmd === 'prevField') st.focus = (st.focus + fields.length - 1) % fields.length;
    else if (cmd === 'cancel') onCancel();
    else if (cmd === 'save' || cmd === 'submit') {
      const out = Object.fromEntries(fields.map((f, j) => [f.name, st.values[j]!.value.trim()]));
      st.error = validate(out);
      if (st.error === null) onSubmit(out);
    }
  });

  const { values, focus, error } = state.current;
  const labelWidth = Math.max(...fields.map((f) => f.label.length)) + 2;
  return (
    <Box flexDirection="column" borderStyle="round" paddingX={1} width={Math.min(width, 100)}>
      <Text bold>
        {title} <Text color={tone('muted')}>tab/↓ next · ←/→ choose · enter or ctrl+s start · esc cancel</Text>
      </Text>
      {fields.map((f, i) => {
        const focused = i === focus;
        return (
          <Box key={f.name}>
            {/* The label and a choice never shrink: a long text value and the hint wrap instead. */}
            <Box flexShrink={0}>
              <Text color={tone(focused ? 'accent' : undefined)} bold={focused}>
                {focused ? '▸ ' : '  '}
                {f.label.padEnd(labelWidth)}
              </Text>
            </Box>
            {f.choices ? (
              <Box flexShrink={0}>
                <Text inverse={focused}>{focused ? `‹ ${values[i]!.value} ›` : values[i]!.value}</Text>
              </Box>
            ) : (
              <TextField state={values[i]!} focused={focused} />
            )}
            {focused && f.hint ? <Text color={tone('muted')}> {f.hint}</Text> : null}
          </Box>
        );
      })}
      {error ? <Text color={tone('bad')}>{error}</Text> : null}
    </Box>
  );
}
