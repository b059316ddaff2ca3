/** The benchmark result as a table for people; the JSON carries the same numbers and more. */
import { type BenchResult, TEACHER_MODES } from './benchResult.ts'

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  // First column left-aligned (names), the rest right-aligned (numbers).
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd()
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)]
}

const fixed = (v: number, digits = 2) => v.toFixed(digits)
const mib = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MiB`
// Provider errors start with the runtime's source location and end with the reason: keep the end (the JSON
// keeps them whole).
const clip = (text: string, max: number) => (text.length > max ? `…${text.slice(-(max - 1))}` : text)
const signed = (v: number, digits = 2) => `${v >= 0 ? '+' : ''}${v.toFixed(digits)}%`

export function formatReport(r: BenchResult): string {
  const out: string[] = []
  const graphs = r.load.graphs
  const loadedNames = [...new Set(graphs.map((g) => g.provider))]
  out.push(
    `DD Studio benchmark: pack ${r.pack.id} ${r.pack.version} (${r.pack.tokens} tokens${r.pack.steps?.unit === 'scale' ? ` in ${r.pack.steps.count} scales` : ''}, ${r.pack.width}x${r.pack.height}), ${r.settings.prompt === undefined ? `class ${r.settings.classIndex}` : `prompt "${r.settings.prompt}"`}, seeds from ${r.settings.seed}`,
  )
  out.push(
    `machine   ${r.machine.cpuModel}, ${r.machine.logicalCores} logical cores, ${r.machine.platform} ${r.machine.arch}, ${(r.machine.totalMemoryBytes / 1024 ** 3).toFixed(1)} GiB; load average ${r.machine.loadAverage.map((v) => v.toFixed(2)).join(' ')} at start, ${r.machine.loadAverageAtEnd.map((v) => v.toFixed(2)).join(' ')} at the end`,
  )
  out.push(`runtime   node ${r.runtime.node}, onnxruntime-node ${r.runtime.onnxruntime}`)
  const probes = r.provider.probes
    ? `; probes: ${r.provider.probes.map((p) => `${p.name} ${p.available ? 'ok' : `failed (${clip(p.error ?? 'no reason given', 90)})`}`).join(', ')}`
    : ''
  out.push(
    `EP        ${loadedNames.join(' + ')} (${graphs.map((g) => `${g.graph} ${g.provider}`).join(', ')}); requested ${r.provider.requested}, tried ${r.provider.tried.join(', ')}${probes}`,
  )
  for (const f of r.provider.fallbacks)
    out.push(`  ! ${f.graph}: ${f.provider} failed: ${clip(f.error, 100)}`)
  out.push(
    `load      ${fixed(r.load.totalMs, 0)} ms: ${graphs.map((g) => `${g.graph} ${fixed(g.wallMs, 0)} ms`).join(', ')} (session creation and one warm-up run each)`,
  )

  const dd = r.modes.filter((m) => !TEACHER_MODES.includes(m.mode))
  const teacher = r.modes.filter((m) => TEACHER_MODES.includes(m.mode))
  out.push('')
  out.push(
    'Batch 1 latency in ms: wall time of generate(), noise to PNG bytes. token, decode, other: p50 of each part',
  )
  out.push(
    '(other = total - token - decode); min: the fastest image, what an idle machine gets closer to; first: the',
  )
  out.push('first warm-up image, not in any statistic. outside run: share of the time not in session.run.')
  out.push(
    ...table(
      ['mode', 'images', 'min', 'p50', 'p90', 'token', 'decode', 'other', 'outside run', 'first', 'x 1-step'],
      r.modes.map((m) => [
        m.mode,
        String(m.latency.samples),
        fixed(m.latency.totalMs.min),
        fixed(m.latency.totalMs.p50),
        fixed(m.latency.totalMs.p90),
        fixed(m.latency.tokenMs.p50),
        fixed(m.latency.decodeMs.p50),
        fixed(m.latency.otherMs.p50),
        `${fixed(m.latency.outsideRunFraction * 100, 1)}%`,
        fixed(m.firstRunMs, 1),
        m.vsOneStep === null ? '-' : `${fixed(m.vsOneStep)}x`,
      ]),
    ),
  )

  const batches = [...new Set(r.modes.flatMap((m) => m.throughput.map((t) => t.batch)))].sort((a, b) => a - b)
  out.push('')
  out.push('Images per second (batch 1 from the latency run; each larger batch size warmed up once, untimed)')
  out.push(
    ...table(
      ['mode', ...batches.map((b) => `batch ${b}`), 'images timed', 'outside run'],
      r.modes.map((m) => {
        const at = (b: number) => m.throughput.find((t) => t.batch === b)
        return [
          m.mode,
          ...batches.map((b) => {
            const t = at(b)
            return t ? fixed(t.imagesPerSecond, 1) : '-'
          }),
          batches.map((b) => String(at(b)?.images ?? '-')).join(' / '),
          batches
            .map((b) => {
              const t = at(b)
              return t ? `${fixed(t.outsideRunFraction * 100, 0)}%` : '-'
            })
            .join(' / '),
        ]
      }),
    ),
  )
  if (teacher.length && dd.length) {
    out.push(
      `Fewer repetitions for ${teacher.map((m) => m.mode).join(', ')} (one teacher run per token or scale): ${r.settings.counts.teacherLatency} batch-1 samples and ${r.settings.counts.teacherThroughputImages}+ images per batch size, against ${r.settings.counts.ddLatency} and ${r.settings.counts.ddThroughputImages}+ for ${dd.map((m) => m.mode).join(', ')}.`,
    )
  }

  const m = r.memory
  out.push('')
  out.push(
    `Memory over ${m.images} 1-step images at batch 1, from after warm-up to the end${m.gcForced ? ' (garbage collected before each reading)' : ' (no forced GC: heap includes garbage)'}`,
  )
  out.push(
    `  RSS   ${mib(m.start.rssBytes)} -> ${mib(m.end.rssBytes)} (${signed(m.rssDriftPercent)}); peak ${mib(m.peakRssBytes)} during it, ${mib(m.processPeakRssBytes)} over the whole benchmark`,
  )
  out.push(
    `  heap  ${mib(m.start.heapUsedBytes)} -> ${mib(m.end.heapUsedBytes)} (${signed(m.heapDriftPercent)})`,
  )
  out.push(
    `  RSS trace: ${m.trace.map((p) => `${p.images}: ${(p.rssBytes / 1024 ** 2).toFixed(1)}`).join(', ')}`,
  )

  out.push('')
  out.push('Targets (reported, not enforced)')
  for (const t of r.targets) {
    const tag = t.pass === null ? 'info' : t.pass ? 'PASS' : 'MISS'
    const value =
      t.value === null
        ? 'not measured'
        : t.unit === 'x'
          ? `${fixed(t.value)}x`
          : `${fixed(t.value)}${t.unit === '%' ? '%' : ` ${t.unit}`}`
    out.push(`  ${tag}  ${t.name}: ${value}${t.pass === null ? '' : ` (target ${t.target})`}`)
  }
  out.push(`took ${fixed(r.durationMs / 1000, 1)} s`)
  return out.join('\n')
}
