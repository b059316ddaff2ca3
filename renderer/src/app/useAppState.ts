/** Live view of the host, the system probe and the settings, kept current through contract events. */
import { useCallback, useEffect, useState } from 'react'
import type { HostStatus, Settings, SystemInfo } from '../../../common/types.ts'
import { client } from '../transport/client.ts'

export interface AppState {
  host: HostStatus | null
  system: SystemInfo | null
  systemError: string | null
  settings: Settings | null
  /** Saves some settings; answers with why they were refused, or null. */
  updateSettings(patch: Partial<Settings>): Promise<string | null>
  restartHost(): Promise<void>
}

export function useAppState(): AppState {
  const [host, setHost] = useState<HostStatus | null>(null)
  const [system, setSystem] = useState<SystemInfo | null>(null)
  const [systemError, setSystemError] = useState<string | null>(null)
  const [settings, setSettings] = useState<Settings | null>(null)

  const loadSystem = useCallback(async () => {
    const info = await client.system.info({})
    if (info.ok) {
      setSystem(info.value)
      setSystemError(null)
    } else {
      setSystemError(info.error.message)
    }
  }, [])

  useEffect(() => {
    const unsubscribe = client.host.onState((status) => {
      setHost(status)
      if (status.state === 'ready') void loadSystem()
    })
    void client.host.status({}).then((r) => r.ok && setHost(r.value))
    void client.settings.get({}).then((r) => r.ok && setSettings(r.value))
    void loadSystem()
    return unsubscribe
  }, [loadSystem])

  useEffect(() => {
    if (!settings) return
    document.documentElement.classList.toggle('dark', settings.theme === 'dark')
    document.documentElement.classList.toggle('light', settings.theme === 'light')
  }, [settings])

  const updateSettings = useCallback(
    async (patch: Partial<Settings>) => {
      const result = await client.settings.update(patch)
      if (!result.ok) return result.error.message
      setSettings(result.value)
      // The provider the engine will use depends on the preference.
      if (patch.executionProvider !== undefined) void loadSystem()
      return null
    },
    [loadSystem],
  )

  const restartHost = useCallback(async () => {
    const result = await client.host.restart({})
    if (result.ok) setHost(result.value)
  }, [])

  return { host, system, systemError, settings, updateSettings, restartHost }
}
