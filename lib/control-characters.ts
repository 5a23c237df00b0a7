/* eslint-disable no-control-regex -- these patterns exist to find control characters */

/** Any C0 control character or DEL: never part of a one-line field, a username or a query parameter. */
export const CONTROL = /[\u0000-\u001f\u007f]/;
export const CONTROL_ALL = /[\u0000-\u001f\u007f]/g;

/** The same but tab, line feed and carriage return, which multi-line text may hold. */
export const CONTROL_IN_TEXT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
