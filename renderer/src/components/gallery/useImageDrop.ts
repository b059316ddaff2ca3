/**
 * A PNG dropped anywhere on the window: its bytes are read in the page (nothing is uploaded) with
 * readDroppedImageParameters, which finds our settings or AUTOMATIC1111's and never throws. Only drags that
 * carry files count, so dragging an image around inside the page does nothing.
 */
import { useCallback, useEffect, useState } from 'react'
import { type DroppedImageParameters, readDroppedImageParameters } from '../../../../common/pngText.ts'

/** Larger files are not read: no image with generation settings is anywhere near this. */
export const MAX_DROP_BYTES = 64 * 1024 * 1024

export type Dropped =
  | { name: string; state: 'reading' }
  | { name: string; state: 'read'; result: DroppedImageParameters; extraFiles: number }

export interface ImageDrop {
  /** Files are being dragged over the window. */
  dragging: boolean
  dropped: Dropped | null
  close(): void
}

function carriesFiles(e: DragEvent): boolean {
  return e.dataTransfer?.types.includes('Files') ?? false
}

async function read(file: File): Promise<DroppedImageParameters> {
  if (file.size > MAX_DROP_BYTES) {
    return {
      source: 'none',
      text: '',
      settings: null,
      problems: [
        `This file is ${(file.size / 1024 / 1024).toFixed(0)} MB, too large to be an image with generation settings (at most ${MAX_DROP_BYTES / 1024 / 1024} MB are read).`,
      ],
    }
  }
  return readDroppedImageParameters(new Uint8Array(await file.arrayBuffer()))
}

export function useImageDrop(): ImageDrop {
  const [dragging, setDragging] = useState(false)
  const [dropped, setDropped] = useState<Dropped | null>(null)

  useEffect(() => {
    // dragenter and dragleave fire for every element crossed: count them to know when the drag left the window.
    let depth = 0
    let latest = 0
    const enter = (e: DragEvent) => {
      if (!carriesFiles(e)) return
      depth++
      setDragging(true)
    }
    const leave = (e: DragEvent) => {
      if (!carriesFiles(e)) return
      depth = Math.max(0, depth - 1)
      if (depth === 0) setDragging(false)
    }
    const over = (e: DragEvent) => {
      if (!carriesFiles(e)) return
      // Without this the browser would open the file in place of the app.
      e.preventDefault()
      if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy'
    }
    const drop = (e: DragEvent) => {
      if (!carriesFiles(e)) return
      e.preventDefault()
      depth = 0
      setDragging(false)
      const files = e.dataTransfer?.files
      const file = files?.[0]
      if (!file) return
      const ticket = ++latest
      setDropped({ name: file.name, state: 'reading' })
      void read(file).then((result) => {
        // A second drop while the first is read wins.
        if (ticket === latest)
          setDropped({ name: file.name, state: 'read', result, extraFiles: (files?.length ?? 1) - 1 })
      })
    }
    window.addEventListener('dragenter', enter)
    window.addEventListener('dragleave', leave)
    window.addEventListener('dragover', over)
    window.addEventListener('drop', drop)
    return () => {
      window.removeEventListener('dragenter', enter)
      window.removeEventListener('dragleave', leave)
      window.removeEventListener('dragover', over)
      window.removeEventListener('drop', drop)
    }
  }, [])

  const close = useCallback(() => setDropped(null), [])
  return { dragging, dropped, close }
}
