import { useState } from 'react'
import { AboutDialog } from '../components/AboutDialog.tsx'
import { GeneratePanel } from '../components/generate/GeneratePanel.tsx'
import { ResultCanvas } from '../components/generate/ResultCanvas.tsx'
import { GalleryPane, HostBanner } from '../components/Panels.tsx'
import { StatusBar } from '../components/StatusBar.tsx'
import { useAppState } from './useAppState.ts'
import { useGeneration } from './useGeneration.ts'

export function App() {
  const state = useAppState()
  const generation = useGeneration()
  const [aboutOpen, setAboutOpen] = useState(false)
  const theme = state.settings?.theme ?? 'dark'

  return (
    <div className="flex h-full flex-col bg-white font-sans text-zinc-900 dark:bg-zinc-950 dark:text-zinc-100">
      <header className="flex h-11 shrink-0 items-center border-b border-zinc-200 px-4 dark:border-zinc-800">
        <h1 className="text-sm font-semibold tracking-tight">DD Studio</h1>
      </header>
      <HostBanner host={state.host} onRestart={() => void state.restartHost()} />
      <main className="flex min-h-0 flex-1">
        <GeneratePanel host={state.host} generation={generation} />
        <ResultCanvas generation={generation} />
        <GalleryPane settings={state.settings} />
      </main>
      <StatusBar
        host={state.host}
        system={state.system}
        systemError={state.systemError}
        theme={theme}
        onToggleTheme={() => void state.updateSettings({ theme: theme === 'dark' ? 'light' : 'dark' })}
        onAbout={() => setAboutOpen(true)}
      />
      <AboutDialog open={aboutOpen} system={state.system} onClose={() => setAboutOpen(false)} />
    </div>
  )
}
