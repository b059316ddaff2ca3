/**
 * How a Generate form input is tied to its label, its error, the server's complaint and its hint. Every field
 * component takes these attributes from here, so the ids that aria-describedby names stay in one place.
 */
import type { FieldName } from './formModel.ts'

/** Spread onto an input; `id` is also the label's htmlFor. */
export interface FieldAria {
  id: string
  'aria-invalid': boolean | undefined
  'aria-describedby': string | undefined
}

/** The fields that render a `<name>-hint` paragraph under their input. */
const HINTED: ReadonlySet<FieldName> = new Set<FieldName>(['seed', 'n', 't2', 'tList'])

/** A field's ARIA attributes, given the form's current errors and the field the server refused, if any. */
export function fieldAriaFor(
  errors: Partial<Record<FieldName, string>>,
  serverField: FieldName | null,
): (name: FieldName) => FieldAria {
  return (name) => {
    const error = errors[name]
    const fromServer = serverField === name
    const describedBy = [
      error ? `${name}-error` : null,
      fromServer ? 'server-input-error' : null,
      HINTED.has(name) ? `${name}-hint` : null,
    ]
      .filter(Boolean)
      .join(' ')
    return {
      id: `field-${name}`,
      'aria-invalid': error || fromServer ? true : undefined,
      'aria-describedby': describedBy || undefined,
    }
  }
}
