/**
 * This machine's measured speed per mode for one pack (packs.speeds), asked again whenever `refreshKey`
 * changes: the caller passes the last finished job's id, since main learns from every finished job.
 */
import { useEffect, useState } from 'react'
import type { ModeSpeed } from '../../../common/generation.ts'
import { client } from '../transport/client.ts'

/** Null while loading or when there is no pack; a failed call counts as nothing measured. */
export function useSpeeds(packId: string | null, refreshKey: string | null): ModeSpeed[] | null {
  const [speeds, setSpeeds] = useState<{ packId: string; list: ModeSpeed[] } | null>(null)
  useEffect(() => {
    if (!packId) return
    let alive = true
    // The key is read so a new finished job asks again; its value does not matter.
    void refreshKey
    void client.packs.speeds({ packId }).then((r) => {
      if (alive) setSpeeds({ packId, list: r.ok ? r.value : [] })
    })
    return () => {
      alive = false
    }
  }, [packId, refreshKey])
  // Another pack's speeds, still shown while the new ones load, would be wrong.
  return speeds && speeds.packId === packId ? speeds.list : null
}
