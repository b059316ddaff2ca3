/**
 * Where a mode's tokens differ from the exact teacher's: one cell per token position, laid out as the token
 * grid (rows × cols = token count, as square as the count allows), darker where more images differ.
 */
import { formatPercent } from './ui.ts'

/** The most square rows × cols with rows * cols = count (8 × 8 for 64 tokens). */
export function gridShape(count: number): { rows: number; cols: number } {
  if (count <= 0) return { rows: 0, cols: 0 }
  let rows = Math.floor(Math.sqrt(count))
  while (rows > 1 && count % rows !== 0) rows--
  return { rows, cols: count / rows }
}

interface Props {
  /** Per position, the share of images (0..1) whose token differs from the exact teacher's. */
  disagreement: number[]
  /** What is compared, for the accessible name: "2 steps". */
  label: string
  cell?: number
}

export function DisagreementHeatmap({ disagreement, label, cell = 9 }: Props) {
  const { rows, cols } = gridShape(disagreement.length)
  const differing = disagreement.filter((d) => d > 0).length
  const mean = disagreement.length ? disagreement.reduce((a, b) => a + b, 0) / disagreement.length : 0
  const summary =
    `Where ${label} differs from the exact teacher, by token position (${rows} rows of ${cols}): ` +
    `${differing} of ${disagreement.length} positions differ in at least one image; ` +
    `on average ${formatPercent(mean)} of images differ per position.`
  return (
    <figure
      className="flex flex-col items-center gap-1"
      data-testid="heatmap"
      data-rows={rows}
      data-cols={cols}
    >
      <div
        role="img"
        aria-label={summary}
        title={summary}
        className="grid gap-px rounded-sm border border-zinc-300 bg-zinc-300 p-px dark:border-zinc-700 dark:bg-zinc-700"
        style={{ gridTemplateColumns: `repeat(${cols}, ${cell}px)` }}
      >
        {disagreement.map((d, i) => (
          <div
            // Positions are fixed for a pack: the index is the identity.
            // biome-ignore lint/suspicious/noArrayIndexKey: one cell per token position
            key={i}
            data-testid="heatmap-cell"
            title={`Token ${i} (row ${Math.floor(i / cols) + 1}, column ${(i % cols) + 1}): differs in ${formatPercent(d)} of images`}
            style={{
              width: cell,
              height: cell,
              backgroundColor: d > 0 ? `rgba(244, 63, 94, ${(0.2 + 0.8 * d).toFixed(3)})` : undefined,
            }}
            className={d > 0 ? '' : 'bg-white dark:bg-zinc-900'}
          />
        ))}
      </div>
      <figcaption className="text-[10px] text-zinc-500 dark:text-zinc-400">
        {differing}/{disagreement.length} positions differ
      </figcaption>
    </figure>
  )
}

/** The colour key for the heatmaps. */
export function HeatmapLegend() {
  return (
    <p className="flex items-center gap-1.5 text-[11px] text-zinc-500 dark:text-zinc-400">
      <span>Token differs from exact teacher in</span>
      <span className="inline-block size-2.5 border border-zinc-300 bg-white dark:border-zinc-700 dark:bg-zinc-900" />
      <span>no image</span>
      <span className="inline-block size-2.5" style={{ backgroundColor: 'rgba(244, 63, 94, 0.4)' }} />
      <span>some</span>
      <span className="inline-block size-2.5" style={{ backgroundColor: 'rgba(244, 63, 94, 1)' }} />
      <span>every image</span>
    </p>
  )
}

/**
 * One image's differing tokens drawn over the image itself (tokens map to image patches in raster order), so
 * the eye finds where a fast mode went its own way. Decorative: the column's heatmap and agreement say it in
 * words.
 */
export function DisagreementOverlay({ disagreement }: { disagreement: number[] }) {
  const { rows, cols } = gridShape(disagreement.length)
  return (
    <div
      aria-hidden="true"
      data-testid="heatmap-overlay"
      className="pointer-events-none absolute inset-0 grid"
      style={{ gridTemplateColumns: `repeat(${cols}, 1fr)`, gridTemplateRows: `repeat(${rows}, 1fr)` }}
    >
      {disagreement.map((d, i) => (
        <div
          // biome-ignore lint/suspicious/noArrayIndexKey: one cell per token position
          key={i}
          // Light enough that the image stays readable where most tokens differ.
          style={d > 0 ? { backgroundColor: `rgba(244, 63, 94, ${(0.2 + 0.2 * d).toFixed(3)})` } : undefined}
        />
      ))}
    </div>
  )
}
