/**
 * Bad inputs for every contract method, derived from its schema and example: wrong types, missing and extra
 * fields, huge strings, NaN/Infinity, `__proto__`/`constructor` keys and deep nesting. Each case names the field
 * the error message must mention.
 */
import { z } from 'zod'
import { contract, type InvokeName } from '../../common/contract.ts'

export interface FuzzCase {
  label: string
  input: unknown
  /** Text the error message must contain (the offending field). */
  field: string
}

export function deepNest(depth: number): unknown {
  let value: unknown = 'bottom'
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { nested: value }
  return value
}

const HUGE = 'x'.repeat(300_000)

const WRONG_VALUES: [string, unknown][] = [
  ['null', null],
  ['number', 12345],
  ['negative', -1],
  ['string', 'surprise'],
  ['empty string', ''],
  ['boolean', true],
  ['array', [1, 2, 3]],
  ['object', { a: 1 }],
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['-Infinity', Number.NEGATIVE_INFINITY],
  ['huge string', HUGE],
  ['relative path', 'relative/path'],
  ['NUL byte', '/tmp/a\0b'],
  ['deep nesting', deepNest(2000)],
]

function shapeOf(name: InvokeName): Record<string, z.ZodType> {
  const schema = contract[name].input
  if (!(schema instanceof z.ZodObject)) throw new Error(`${name}: fuzzing expects an object schema`)
  return schema.shape as Record<string, z.ZodType>
}

export function fuzzCorpus(name: InvokeName): FuzzCase[] {
  const example = contract[name].example as Record<string, unknown>
  const shape = shapeOf(name)
  const cases: FuzzCase[] = []

  for (const [label, value] of [
    ['null', null],
    ['number', 7],
    ['string', 'input'],
    ['array', [example]],
    ['boolean', false],
    ['huge string', HUGE],
    ['deep nesting', deepNest(2000)],
  ] as const) {
    cases.push({ label: `input is ${label}`, input: value, field: 'input' })
  }

  cases.push({ label: 'extra field', input: { ...example, sneaky: 1 }, field: 'sneaky' })
  cases.push({
    label: '__proto__ key',
    input: { ...example, ...(JSON.parse('{"__proto__": {"polluted": true}}') as object) },
    field: '__proto__',
  })
  cases.push({
    label: 'constructor key',
    input: { ...example, constructor: { prototype: { polluted: true } } },
    field: 'constructor',
  })
  cases.push({
    label: 'deeply nested extra field',
    input: { ...example, deep: deepNest(2000) },
    field: 'deep',
  })

  for (const [key, fieldSchema] of Object.entries(shape)) {
    if (!fieldSchema.safeParse(undefined).success) {
      const { [key]: _removed, ...rest } = example
      cases.push({ label: `missing ${key}`, input: rest, field: `input.${key}` })
    }
    for (const [label, value] of WRONG_VALUES) {
      if (fieldSchema.safeParse(value).success) continue
      cases.push({ label: `${key} is ${label}`, input: { ...example, [key]: value }, field: `input.${key}` })
    }
  }
  return cases
}

/** What JSON can carry of a case: NaN has no JSON form (sent as the bare word NaN), Infinity goes as 1e999. */
export function toJsonBody(input: unknown): { body: string; field?: string } {
  let hasNaN = false
  const text = JSON.stringify(input, (_key, value: unknown) => {
    if (typeof value === 'number' && Number.isNaN(value)) {
      hasNaN = true
      return '__NAN__'
    }
    if (value === Number.POSITIVE_INFINITY) return '__INF__'
    if (value === Number.NEGATIVE_INFINITY) return '__NINF__'
    return value
  })
  const body = (text ?? 'null')
    .replaceAll('"__NAN__"', 'NaN')
    .replaceAll('"__INF__"', '1e999')
    .replaceAll('"__NINF__"', '-1e999')
  return hasNaN ? { body, field: 'body' } : { body }
}
