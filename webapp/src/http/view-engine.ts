import ejs from 'ejs';
import escapeHtml from 'escape-html';

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
/**
 * Names that cannot be declared as variables, JavaScript's and those of EJS's compiled function
 * (a local so named is read as `locals.name`).
 */
const RESERVED = new Set(
  'locals escapeFn include rethrow __output __append __locals __line __lines __filename arguments await break case catch class const continue debugger default delete do else enum eval export extends false finally for function if implements import in instanceof interface let new null package private protected public return static super switch this throw true try typeof var void while with yield'.split(
    ' ',
  ),
);

type Done = (err: Error | null, html?: string) => void;

/** `<%= %>`: nothing for null and undefined, as EJS's own; a value with nothing to escape is returned as it is. */
function escape(value: unknown): string {
  return value == null ? '' : escapeHtml(value as string);
}

// Shared by every engine, as EJS's template cache is: a template compiled for one app must
// declare the names another app's renders pass.
const names = new Set<string>();
let declared: string[] = [];

/**
 * EJS without its `with (locals)` block: a page's locals are declared as plain variables
 * (`destructuredLocals`), which V8 compiles to fast local reads; under `with` every name is a
 * dynamic scope lookup (the catalogue page rendered in 180 us with it and 65 us without).
 * Templates keep reading their locals by name. The declared names are every name any render has
 * passed so far (one this render leaves out reads as undefined): a new one recompiles the
 * templates once, so no page ever sees a name undeclared that `with` would have found. A name
 * passed only to an include (`include(file, { caption })`) is not seen here: the included
 * template reads it as `locals.caption`.
 *
 * Values are escaped by `escape-html`, which returns a string with nothing to escape without
 * rebuilding it (EJS's own runs a replace over every value), and the template reads the object
 * Express passes instead of a copy: the catalogue page then renders in ~45 us instead of ~70 us
 * (a page escapes some 400 values).
 *
 * Includes name their file from the views folder (`include('/partials/head')`, resolved against
 * `root`): EJS looks a relative include up on disk at every render, cached templates or not, and
 * those `existsSync` calls were 2.6% of the portal's CPU serving the catalogue.
 */
export function ejsWithoutWith() {
  return (file: string, options: object, done: Done): void => {
    const data = options as Record<string, unknown>;
    let grew = false;
    for (const name of Object.keys(data)) {
      if (!names.has(name) && IDENTIFIER.test(name) && !RESERVED.has(name)) {
        names.add(name);
        grew = true;
      }
    }
    if (grew) {
      declared = [...names];
      ejs.clearCache();
    }
    const settings = data.settings as { views: string; 'view cache'?: boolean };
    ejs.renderFile(
      file,
      data,
      {
        root: settings.views,
        views: [settings.views],
        cache: Boolean(settings['view cache']),
        _with: false,
        destructuredLocals: declared,
        escape,
        // The render's object is the template's locals, not a copy of it made at every render.
        unsafePrototypeLocals: true,
      } as ejs.Options,
      done,
    );
  };
}
