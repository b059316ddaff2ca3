import { useState } from 'react'
import { AboutDialog } from '../components/AboutDialog.tsx'
import { DropDialog } from '../components/gallery/DropDialog.tsx'
import { DropOverlay } from '../components/gallery/DropOverlay.tsx'
import { GalleryPane } from '../components/gallery/GalleryPane.tsx'
import { useImageDrop } from '../components/gallery/useImageDrop.ts'
import { GeneratePanel } from '../components/generate/GeneratePanel.tsx'
import { ResultCanvas } from '../components/generate/ResultCanvas.tsx'
import { HostBanner } from '../components/Panels.tsx'
import { SettingsDialog } from '../components/SettingsDialog.tsx'
import { ShortcutSheet, useShortcutSheetKey } from '../components/ShortcutSheet.tsx'
import { StatusBar } from '../components/StatusBar.tsx'
import { useAppState } from './useAppState.ts'
import { useGeneration } from './useGeneration.ts'

type DialogName = 'about' | 'settings' | 'shortcuts'

const headerButton =
  'rounded px-2 py-1 text-xs text-zinc-600 hover:bg-zinc-100 focus-visible:outline-2 focus-visible:outline-indigo-500 dark:text-zinc-300 dark:hover:bg-zinc-800'

export function App() {
  const state = useAppState()
  const generation = useGeneration()
  // One dialog at a time: each is modal.
  const [dialog, setDialog] = useState<DialogName | null>(null)
  const close = () => setDialog(null)
  const theme = state.settings?.theme ?? 'dark'
  useShortcutSheetKey(() => setDialog('shortcuts'))
  const drop = useImageDrop()

  return (
    <div className="flex h-full flex-col bg-white font-sans text-zinc-900 dark:bg-zinc-950 dark:text-zinc-100">
      <header className="flex h-11 shrink-0 items-center gap-2 border-b border-zinc-200 px-4 dark:border-zinc-800">
        <h1 className="text-sm font-semibold tracking-tight">DD Studio</h1>
        <nav aria-label="App" className="ml-auto flex items-center gap-1">
          <button
            type="button"
            onClick={() => setDialog('shortcuts')}
            aria-keyshortcuts="?"
            title="Keyboard shortcuts (?)"
            className={headerButton}
          >
            Keyboard shortcuts
          </button>
          <button type="button" onClick={() => setDialog('settings')} className={headerButton}>
            Settings
          </button>
        </nav>
      </header>
      <HostBanner host={state.host} onRestart={() => void state.restartHost()} />
      <main className="flex min-h-0 flex-1">
        <GeneratePanel host={state.host} generation={generation} defaultMode={state.settings?.defaultMode} />
        <ResultCanvas generation={generation} />
        <GalleryPane
          settings={state.settings}
          packs={generation.packs}
          lastResult={generation.result}
          onUseSettings={generation.loadSettings}
        />
      </main>
      <StatusBar
        host={state.host}
        system={state.system}
        systemError={state.systemError}
        theme={theme}
        onToggleTheme={() => void state.updateSettings({ theme: theme === 'dark' ? 'light' : 'dark' })}
        onAbout={() => setDialog('about')}
      />
      <AboutDialog open={dialog === 'about'} system={state.system} onClose={close} />
      <SettingsDialog
        open={dialog === 'settings'}
        onClose={close}
        settings={state.settings}
        system={state.system}
        onSave={state.updateSettings}
      />
      <ShortcutSheet open={dialog === 'shortcuts'} onClose={close} />
      <DropDialog
        dropped={drop.dropped}
        onClose={drop.close}
        packs={generation.packs}
        onUseSettings={generation.loadSettings}
      />
      <DropOverlay visible={drop.dragging} />
    </div>
  )
}
