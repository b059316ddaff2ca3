/**
 * Checks that each graph of a pack has the inputs and outputs its manifest promises: names, element types and
 * shapes. loadPack only proves the files are the ones the pipeline wrote; this proves the manifest describes
 * them, so a mismatch is reported up front instead of as an onnxruntime error in the middle of a generation.
 * It loads every graph, which takes a moment per graph: run it on import or on demand, not on every scan.
 */
import path from 'node:path'
import * as ort from 'onnxruntime-node'
import type { GraphSpecOf, PackManifest } from './manifest.ts'

type GraphSpec = GraphSpecOf
type TensorSpec = GraphSpec['inputs'][string]
type Kind = 'input' | 'output'

/** The problems found, one line each and starting with the graph's file name; empty when all match. */
export async function checkGraphIo(dir: string, manifest: PackManifest): Promise<string[]> {
  const problems: string[] = []
  // One graph at a time: each session holds the whole graph in memory.
  for (const spec of Object.values(manifest.graphs)) if (spec) problems.push(...(await checkGraph(dir, spec)))
  return problems
}

async function checkGraph(dir: string, spec: GraphSpec): Promise<string[]> {
  let session: ort.InferenceSession
  try {
    session = await ort.InferenceSession.create(path.join(dir, spec.file), {
      executionProviders: ['cpu'],
      logSeverityLevel: 3,
    })
  } catch (err) {
    return [`${spec.file}: onnxruntime cannot load it (${(err as Error).message})`]
  }
  try {
    return graphIoProblems(session, spec)
  } finally {
    await session.release()
  }
}

/** The same check on a session that is already loaded (the engine runs it on every session it creates). */
export function graphIoProblems(
  session: ort.InferenceSession,
  spec: { file: string; inputs: Record<string, TensorSpec>; outputs: Record<string, TensorSpec> },
): string[] {
  return [
    ...compare(spec.file, 'input', spec.inputs, session.inputNames, session.inputMetadata),
    ...compare(spec.file, 'output', spec.outputs, session.outputNames, session.outputMetadata),
  ]
}

function compare(
  file: string,
  kind: Kind,
  specs: Record<string, TensorSpec>,
  names: readonly string[],
  metadata: readonly ort.InferenceSession.ValueMetadata[] | undefined,
): string[] {
  const problems: string[] = []
  for (const [name, spec] of Object.entries(specs)) {
    if (!names.includes(name)) {
      problems.push(`${file}: ${kind} '${name}' is missing`)
      continue
    }
    // Metadata arrived in onnxruntime 1.21; without it only the names can be compared.
    const meta = metadata?.find((m) => m.name === name)
    if (!meta) continue
    if (!meta.isTensor) {
      problems.push(`${file}: ${kind} '${name}' is not a tensor in the graph`)
      continue
    }
    if (meta.type !== spec.dtype) {
      problems.push(
        `${file}: ${kind} '${name}' is ${spec.dtype} in the manifest but ${meta.type} in the graph`,
      )
    }
    problems.push(...compareShape(file, kind, name, spec.shape, meta.shape))
  }
  // The app feeds exactly the manifest's inputs, so one it does not know makes every run fail. An output it
  // does not know is only left unread, which is harmless.
  if (kind === 'input') {
    for (const name of names) {
      if (!(name in specs)) problems.push(`${file}: input '${name}' is in the graph but not in the manifest`)
    }
  }
  return problems
}

function compareShape(
  file: string,
  kind: Kind,
  name: string,
  manifest: readonly (number | string)[],
  graph: readonly (number | string)[],
): string[] {
  // onnxruntime reports an unknown shape as [], the same as a scalar's: then there is nothing to compare.
  if (graph.length === 0 && manifest.length > 0) return []
  if (graph.length !== manifest.length) {
    return [
      `${file}: ${kind} '${name}' has shape ${show(manifest)} in the manifest but ${show(graph)} in the graph`,
    ]
  }
  const problems: string[] = []
  manifest.forEach((want, i) => {
    const have = graph[i]
    // A negative size is how a dimension without a name comes back: dynamic, like a named one.
    const haveFixed = typeof have === 'number' && have >= 0
    if (typeof want === 'number' && haveFixed && want !== have) {
      problems.push(
        `${file}: ${kind} '${name}' dimension ${i} is ${want} in the manifest but ${have} in the graph`,
      )
    }
    // A dimension the manifest calls dynamic (the batch) but the graph fixes breaks the app as soon as it
    // feeds another size. For outputs the graph is allowed to know more than the manifest says.
    if (kind === 'input' && typeof want === 'string' && haveFixed) {
      problems.push(
        `${file}: input '${name}' dimension ${i} is dynamic ('${want}') in the manifest but fixed to ${have} in the graph`,
      )
    }
  })
  return problems
}

function show(shape: readonly (number | string)[]): string {
  return `[${shape.join(', ')}]`
}
