/**
 * The "Import official checkpoint" form's values and their checks, kept apart from the component: the same
 * rules as the contract (absolute paths, a pack id's characters, the family's sizes), said next to each field
 * before anything is sent to main.
 */
import type { InputOf } from '../../../../common/contract.ts'
import {
  CHECKPOINT_ROLES,
  type CheckpointFamily,
  type CheckpointRole,
  type CheckpointSize,
  FAMILIES,
} from '../../../../common/convert.ts'
import { isAbsolutePath } from '../paths.ts'

export interface CheckpointFormValues {
  family: CheckpointFamily
  size: CheckpointSize
  files: Record<CheckpointRole, string>
  /** Empty: the converter's default id for the model. */
  id: string
  fp16: boolean
}

export type CheckpointField = CheckpointRole | 'id'

export const initialValues: CheckpointFormValues = {
  family: 'llamagen',
  size: 'B',
  files: { student: '', teacher: '', tokenizer: '' },
  id: '',
  fp16: false,
}

/** The family switched: its first size unless the size is one of its own; the files stay. */
export function withFamily(values: CheckpointFormValues, family: CheckpointFamily): CheckpointFormValues {
  const sizes = FAMILIES[family].sizes
  return { ...values, family, size: sizes.includes(values.size) ? values.size : (sizes[0] as CheckpointSize) }
}

const PACK_ID = /^[a-z0-9][a-z0-9-]*$/

export function checkValues(values: CheckpointFormValues): Partial<Record<CheckpointField, string>> {
  const family = FAMILIES[values.family]
  const errors: Partial<Record<CheckpointField, string>> = {}
  for (const role of CHECKPOINT_ROLES) {
    const file = values.files[role].trim()
    if (file === '') errors[role] = `Give the path of the ${family.files[role]} file.`
    else if (!isAbsolutePath(file))
      errors[role] =
        'The whole path is needed, from the root: /home/me/Downloads/… or C:\\Users\\me\\Downloads\\…'
  }
  const id = values.id.trim()
  if (id !== '' && (id.length > 64 || !PACK_ID.test(id)))
    errors.id = 'A pack id has lower-case letters, digits and dashes (not first), at most 64 characters.'
  return errors
}

/** What convert.start gets, once checkValues found nothing. */
export function requestOf(values: CheckpointFormValues): InputOf<'convert.start'> {
  const id = values.id.trim()
  return {
    family: values.family,
    size: values.size,
    student: values.files.student.trim(),
    teacher: values.files.teacher.trim(),
    tokenizer: values.files.tokenizer.trim(),
    ...(id !== '' ? { id } : {}),
    ...(values.fp16 ? { fp16: true } : {}),
  }
}
