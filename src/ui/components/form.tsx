import { useState } from 'react';
import { Box, Text, useInput } from 'ink';
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
  const [values, setValues] = useState<TextEdit[]>(() => fields.map((f) => textEdit(f.value)));
  const [focus, setFocus] = useState(0);
  const [error, setError] = useState<string | null>(null);

  useInput((input, key) => {
    const field = fields[focus]!;
    const name = keyNames(input, key)[0] ?? '';
    if (field.choices) {
      if (name === 'left' || name === 'right') {
        const i = field.choices.indexOf(values[focus]!.value);
        const next = field.choices[(i + (name === 'right' ? 1 : field.choices.length - 1)) % field.choices.length]!;
        setValues(values.map((v, j) => (j === focus ? textEdit(next) : v)));
        return;
      }
    } else {
      const next = applyTextKey(values[focus]!, input, key, false);
      if (next) {
        setValues(values.map((v, j) => (j === focus ? next : v)));
        setError(null);
        return;
      }
    }
    const cmd = commandFor('formText', name);
    if (cmd === 'nextField') setFocus((focus + 1) % fields.length);
    else if (cmd === 'prevField') setFocus((focus + fields.length - 1) % fields.length);
    else if (cmd === 'cancel') onCancel();
    else if (cmd === 'save' || cmd === 'submit') {
      const out = Object.fromEntries(fields.map((f, j) => [f.name, values[j]!.value.trim()]));
      const problem = validate(out);
      if (problem) setError(problem);
      else onSubmit(out);
    }
  });

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
            <Text color={tone(focused ? 'accent' : undefined)} bold={focused}>
              {focused ? '▸ ' : '  '}
              {f.label.padEnd(labelWidth)}
            </Text>
            {f.choices ? <Text inverse={focused}>{focused ? `‹ ${values[i]!.value} ›` : values[i]!.value}</Text> : <TextField state={values[i]!} focused={focused} />}
            {focused && f.hint ? <Text color={tone('muted')}> {f.hint}</Text> : null}
          </Box>
        );
      })}
      {error ? <Text color={tone('bad')}>{error}</Text> : null}
    </Box>
  );
}
