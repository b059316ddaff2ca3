/**
 * The renderer's side of class matching (common/classMatch.ts): one prepared index per pack's class list,
 * shared by the class explorer and the prompt box and built once (the packs list keeps the same array until
 * main sends a new list), and how a class is written in the UI.
 */
import { type PreparedClasses, prepareClasses } from '../../../../common/classMatch.ts'
import type { PackSummary } from '../../../../common/generation.ts'

type Classes = PackSummary['classes']

const prepared = new WeakMap<Classes, PreparedClasses>()

export function preparedClassesOf(classes: Classes): PreparedClasses {
  let entry = prepared.get(classes)
  if (!entry) {
    entry = prepareClasses(classes)
    prepared.set(classes, entry)
  }
  return entry
}

/** "Class 207 · golden retriever". */
export function classLabel(index: number, name: string): string {
  return `Class ${index} · ${name}`
}

/** A class's other names, the one that matched a search first: "also golden retrievers, …". */
export function otherNames(
  name: string,
  synonyms: readonly string[] | undefined,
  matched?: string | null,
): string[] {
  const others = (synonyms ?? []).filter((s) => s !== name)
  if (matched && matched !== name && others.includes(matched))
    return [matched, ...others.filter((s) => s !== matched)]
  return others
}
