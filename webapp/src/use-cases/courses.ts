import type { Knex } from 'knex';
import { z } from 'zod';
import { EQUIPMENT, type CourseInput, insertCourse, updateCourse } from '../repositories/courses-repository';
import { portalError } from '../errors';

const optionalInt = (min: number, max: number) =>
  z.preprocess(
    (v) => (v === '' || v === undefined ? undefined : v),
    z.coerce.number().int().min(min).max(max).optional(),
  );

/** Query string of the catalogue; bad values fall back to "no filter" rather than an error page. */
export const catalogueQuerySchema = z.object({
  q: z.string().trim().max(100).optional().catch(undefined),
  year: optionalInt(1900, 2200).catch(undefined),
  semester: optionalInt(1, 2).catch(undefined),
  department: optionalInt(1, 2 ** 32 - 1).catch(undefined),
  page: optionalInt(1, 100_000).catch(undefined),
});

/** The staff course form. Field names are the form's input names. */
export const courseFormSchema = z.object({
  department_id: z.coerce.number({ message: 'choose a department' }).int().positive('choose a department'),
  code: z
    .string()
    .trim()
    .regex(/^[A-Z0-9-]{2,16}$/, 'use 2-16 capital letters, digits or dashes'),
  title: z.string().trim().min(3, 'at least 3 characters').max(200),
  description: z
    .string()
    .trim()
    .max(5000)
    .optional()
    .transform((v) => (v ? v : null)),
  credits: z
    .string()
    .trim()
    .regex(/^\d{1,2}(\.\d)?$/, 'a number such as 5 or 7.5'),
  year: z.coerce.number({ message: 'a year such as 2026' }).int().min(2000).max(2100),
  semester: z.coerce.number().int().min(1, 'semester 1 or 2').max(2, 'semester 1 or 2'),
  capacity: z.coerce.number({ message: 'a whole number of seats' }).int().min(1, 'at least one seat').max(10_000),
  required_equipment: z
    .union([z.enum(EQUIPMENT), z.array(z.enum(EQUIPMENT))])
    .optional()
    .transform((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v])),
});

export type CourseForm = z.input<typeof courseFormSchema>;

/** Field -> message, for re-rendering the form with the input kept. */
export function fieldErrors(error: z.ZodError): Record<string, string> {
  const out: Record<string, string> = {};
  for (const issue of error.issues) {
    const key = String(issue.path[0] ?? '_');
    out[key] ??= issue.message;
  }
  return out;
}

function toInput(form: z.output<typeof courseFormSchema>): CourseInput {
  return {
    departmentId: form.department_id,
    code: form.code,
    title: form.title,
    description: form.description,
    credits: form.credits,
    year: form.year,
    semester: form.semester,
    capacity: form.capacity,
    requiredEquipment: form.required_equipment,
  };
}

function isDuplicate(err: unknown): boolean {
  return (err as { code?: string }).code === 'ER_DUP_ENTRY';
}

function isBadReference(err: unknown): boolean {
  return (err as { code?: string }).code === 'ER_NO_REFERENCED_ROW_2';
}

/** Creates (id undefined) or updates a course from the staff form; returns its id. */
export async function saveCourse(db: Knex, id: number | undefined, body: unknown): Promise<number> {
  const parsed = courseFormSchema.safeParse(body);
  if (!parsed.success)
    throw portalError('VALIDATION_FAILED', 'Please correct the highlighted fields.', {
      fields: fieldErrors(parsed.error),
    });
  const input = toInput(parsed.data);
  try {
    if (id === undefined) return await insertCourse(db, input);
    if (!(await updateCourse(db, id, input))) throw portalError('NOT_FOUND', 'That course does not exist.');
    return id;
  } catch (err) {
    if (isDuplicate(err))
      throw portalError('VALIDATION_FAILED', 'Please correct the highlighted fields.', {
        fields: { code: `${input.code} already exists in ${input.year} semester ${input.semester}` },
      });
    if (isBadReference(err))
      throw portalError('VALIDATION_FAILED', 'Please correct the highlighted fields.', {
        fields: { department_id: 'choose a department' },
      });
    throw err;
  }
}
