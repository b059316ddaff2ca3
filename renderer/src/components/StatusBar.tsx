import type { HostStatus, SystemInfo } from '../../../common/types.ts'

const HOST_LABEL: Record<HostStatus['state'], string> = {
  starting: 'Inference host starting',
  ready: 'Inference host ready',
  restarting: 'Inference host restarting',
  failed: 'Inference host failed',
  stopped: 'Inference host stopped',
}

interface Props {
  host: HostStatus | null
  system: SystemInfo | null
  systemError: string | null
  onAbout(): void
  onToggleTheme(): void
  theme: 'dark' | 'light'
}

export function StatusBar({ host, system, systemError, onAbout, onToggleTheme, theme }: Props) {
  const provider = system?.activeProvider ?? (systemError ? 'unavailable' : 'probing…')
  const hostState = host?.state ?? 'starting'
  const dot =
    hostState === 'ready'
      ? 'bg-emerald-500'
      : hostState === 'failed'
        ? 'bg-red-500'
        : 'bg-amber-400 animate-pulse'
  return (
    <section
      aria-label="Status bar"
      className="flex h-8 shrink-0 items-center gap-4 border-t border-zinc-200 bg-zinc-100 px-3 text-xs text-zinc-600 dark:border-zinc-800 dark:bg-zinc-900 dark:text-zinc-400"
    >
      <span className="flex items-center gap-1.5" role="status" aria-label="Inference host">
        <span className={`inline-block size-2 rounded-full ${dot}`} aria-hidden="true" />
        {HOST_LABEL[hostState]}
      </span>
      <span data-testid="execution-provider" title={providerTitle(system, systemError)}>
        Execution provider:{' '}
        <strong className="font-semibold text-zinc-900 dark:text-zinc-100">{provider}</strong>
      </span>
      {system && (
        <span className="hidden md:inline">
          onnxruntime {system.ortVersion} · Node {system.nodeVersion}
        </span>
      )}
      <span className="ml-auto flex items-center gap-2">
        <button
          type="button"
          onClick={onToggleTheme}
          className="rounded px-2 py-0.5 hover:bg-zinc-200 dark:hover:bg-zinc-800"
          aria-label={theme === 'dark' ? 'Switch to light theme' : 'Switch to dark theme'}
        >
          {theme === 'dark' ? 'Light theme' : 'Dark theme'}
        </button>
        <button
          type="button"
          onClick={onAbout}
          className="rounded px-2 py-0.5 hover:bg-zinc-200 dark:hover:bg-zinc-800"
        >
          About
        </button>
      </span>
    </section>
  )
}

function providerTitle(system: SystemInfo | null, error: string | null): string {
  if (error) return error
  if (!system) return 'Testing which execution providers work on this machine'
  return system.providers
    .map((p) => `${p.name}: ${p.available ? `works (${p.probeMs} ms)` : `unavailable — ${p.error}`}`)
    .join('\n')
}
