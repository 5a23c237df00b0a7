import type { Knex } from 'knex';
import { z } from 'zod';
import { EQUIPMENT, type CourseInput, insertCourse, updateCourse } from '../repositories/courses-repository';
import { portalError } from '../errors';
import { CONTROL, CONTROL_IN_TEXT } from '../../../lib/control-characters';

const optionalInt = (name: string, min: number, max: number) =>
  z.preprocess(
    (v) => (v === '' || v === undefined ? undefined : v),
    z
      .string({ message: `${name} must be given once` })
      .regex(/^\d{1,10}$/, `${name} must be a whole number from ${min} to ${max}`)
      .transform(Number)
      .pipe(
        z
          .number()
          .min(min, `${name} must be a whole number from ${min} to ${max}`)
          .max(max, `${name} must be a whole number from ${min} to ${max}`),
      )
      .optional(),
  );

/** Query string of the catalogue: an empty field is no filter, a malformed one a 400 saying why. */
export const catalogueQuerySchema = z.object({
  q: z
    .string({ message: 'the search must be given once' })
    .trim()
    .max(100, 'the search must be at most 100 characters')
    .optional(),
  year: optionalInt('the year', 1900, 2200),
  semester: optionalInt('the semester', 1, 2),
  department: optionalInt('the department', 1, 2 ** 32 - 1),
  page: optionalInt('the page', 1, 100_000),
  /** `1`: only courses with a seat left (the checkbox's value). */
  seats: z.preprocess(
    (v) => (v === '' || v === undefined ? undefined : v),
    z.literal('1', { message: 'seats must be 1 (only courses with seats left) or absent' }).optional(),
  ),
});

/** The catalogue's query, or a 400 naming what is wrong. */
export function parseCatalogueQuery(query: unknown): z.output<typeof catalogueQuerySchema> {
  const parsed = catalogueQuerySchema.safeParse(query);
  if (!parsed.success)
    throw portalError('VALIDATION_FAILED', `Bad search: ${parsed.error.issues.map((i) => i.message).join('; ')}.`);
  return parsed.data;
}

// One-line fields take no control characters at all; a description may hold tabs and line breaks.
// A NUL byte, say, is refused here: PostgreSQL cannot store one, so the mirror could not either.
const noControl = (re: RegExp) => (v: string) => !re.test(v);
const CONTROL_MESSAGE = 'must not contain control characters (such as a NUL byte)';
/** MySQL's TEXT holds 65,535 bytes, whatever the number of characters. */
const TEXT_BYTES = 65_535;

/** The staff course form. Field names are the form's input names. */
export const courseFormSchema = z.object({
  department_id: z.coerce
    .number({ message: 'choose a department' })
    .int('choose a department')
    .positive('choose a department')
    .max(4294967295, 'choose a department'),
  code: z
    .string()
    .trim()
    .regex(/^[A-Z0-9-]{2,16}$/, 'use 2-16 capital letters, digits or dashes'),
  title: z
    .string()
    .trim()
    .refine(noControl(CONTROL), CONTROL_MESSAGE)
    .pipe(z.string().min(3, 'at least 3 characters').max(200, 'at most 200 characters')),
  description: z
    .string()
    .trim()
    .refine(noControl(CONTROL_IN_TEXT), CONTROL_MESSAGE)
    .pipe(
      z
        .string()
        .max(5000, 'at most 5,000 characters')
        .refine((v) => Buffer.byteLength(v, 'utf8') <= TEXT_BYTES, `at most ${TEXT_BYTES} bytes`),
    )
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
