// The user names a 2LOi request may name, and the folded form denyUsers / allowUsers compare on
// (DESIGN.md section 1d). Pure: config/links.ts folds the configured lists with the same function,
// verify/ the requestor names it compares with them.

/** Spaces other than U+0020 (no-break, em, ideographic, …) and line/paragraph separators. */
const ODD_SPACE = /[\p{Zl}\p{Zp}]|(?! )\p{Zs}/u;
// Control and format characters (zero-width joiners, bidi marks, soft hyphen) hide in a header or a log line.
const INVISIBLE = /[\p{Cc}\p{Cf}]/u;

/** Why a requestor name is refused, or null when it is acceptable. */
export function requestorNameProblem(name: string): string | null {
  if (name.length < 1 || name.length > 255) return 'must be 1-255 characters';
  if (name.trim() !== name) return 'must not start or end with white space';
  if (INVISIBLE.test(name)) return 'must not contain control or format characters';
  if (ODD_SPACE.test(name)) return 'must not contain spaces other than U+0020';
  return null;
}

/**
 * A form under which look-alike spellings of one name are equal: compatibility-normalized
 * (NFKC: full-width letters, ligatures), lower-cased, accents and other combining marks
 * removed (NFKD, strip \p{M}: 'İ' → 'i'), and the dotless 'ı' and long 'ſ' read as 'i' and 's'.
 */
export function foldUserName(name: string): string {
  return name
    .normalize('NFKC')
    .toLocaleLowerCase('en-US')
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .replace(/ı/g, 'i')
    .replace(/ſ/g, 's');
}
