/**
 * Why some or all of the shown images are not in the gallery (main could not save them: the folder is missing,
 * is a file, or cannot be written). The job itself succeeded, so this is a notice next to the images, not an
 * alarm: they stay on screen, and each has its own Save as link to keep it.
 */
import type { GenerationResult } from '../../../../common/generation.ts'
import { noticeBox } from './ui.ts'

/**
 * Main's reason is a clause, shown here as a sentence of its own. A folder that cannot be opened at all comes as
 * "the images were not saved: <why>", which the title already says, so only the why is kept.
 */
function asSentence(reason: string): string {
  const text = reason.trim().replace(/^the images were not saved:\s*/i, '')
  const capitalized = text.charAt(0).toUpperCase() + text.slice(1)
  return /[.!?]$/.test(capitalized) ? capitalized : `${capitalized}.`
}

export function GalleryErrorNotice({ result }: { result: GenerationResult }) {
  if (result.galleryError === null) return null
  const total = result.images.length
  const unsaved = result.images.filter((image) => image.galleryId === null).length
  // Every file can be written while the index is not: the images are there, and the next scan lists them.
  const title =
    unsaved === 0
      ? 'The gallery could not fully record these images'
      : unsaved === total
        ? `${total === 1 ? 'This image was' : 'These images were'} not saved to the gallery`
        : `${unsaved} of these ${total} images ${unsaved === 1 ? 'was' : 'were'} not saved to the gallery`
  return (
    <div
      role="status"
      aria-labelledby="gallery-error-title"
      aria-describedby="gallery-error-reason"
      data-testid="gallery-error"
      className={`mb-4 flex flex-col gap-1 ${noticeBox}`}
    >
      <p id="gallery-error-title" className="font-medium">
        {title}
      </p>
      <p id="gallery-error-reason" data-testid="gallery-error-reason" className="break-words">
        {asSentence(result.galleryError)}
      </p>
      <p>
        {total === 1 ? 'It is' : 'They are'} still shown here: use Save as… under{' '}
        {total === 1 ? 'the image' : 'an image'} to keep {total === 1 ? 'it' : 'one'}. Check the gallery
        folder in Settings; the next job tries to save again.
      </p>
    </div>
  )
}
