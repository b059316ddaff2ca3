/** The renderer's path check says yes exactly where the contract's absolutePath schema does. */
import { describe, expect, it } from 'vitest'
import { contract } from '../../common/contract.ts'
import { isAbsolutePath, MAX_PATH_LENGTH } from '../../renderer/src/components/paths.ts'

const SAMPLES = [
  '',
  '/',
  '/home/me/Downloads/my-pack.zip',
  'C:\\Users\\me\\pack',
  'c:/packs/pack.zip',
  'C:pack',
  '\\\\server\\share\\pack',
  '\\single',
  'relative/pack',
  './pack',
  '~/pack',
  ' /leading-space',
  '/with\0nul',
  `/${'a'.repeat(MAX_PATH_LENGTH - 1)}`,
  `/${'a'.repeat(MAX_PATH_LENGTH)}`,
]

describe('isAbsolutePath', () => {
  it.each(SAMPLES.map((p) => [JSON.stringify(p.length > 40 ? `${p.slice(0, 20)}…(${p.length})` : p), p]))(
    'agrees with the contract on %s',
    (_name, p) => {
      const accepted = contract['packs.import'].input.safeParse({ path: p }).success
      expect(isAbsolutePath(p)).toBe(accepted)
    },
  )

  it('accepts the usual absolute forms and refuses the rest', () => {
    expect(SAMPLES.filter(isAbsolutePath)).toEqual([
      '/',
      '/home/me/Downloads/my-pack.zip',
      'C:\\Users\\me\\pack',
      'c:/packs/pack.zip',
      '\\\\server\\share\\pack',
      `/${'a'.repeat(MAX_PATH_LENGTH - 1)}`,
    ])
  })
})
