// Package wheel reads and installs Python wheels without pip: file names (PEP 427,
// with the compressed tag sets of PEP 425), the tags a target accepts in priority order
// (PEP 425, manylinux of PEP 600, musllinux of PEP 656, abi3), and installation into an
// environment's site-packages as the binary distribution format specification
// describes it: every file's hash checked against RECORD, .data directories spread to
// their schemes, console and GUI entry points written as scripts with the
// environment's interpreter in the shebang, INSTALLER, and a RECORD rewritten to match
// what was written. Paths are checked as conda archives' are: nothing absolute, no
// "..", nothing that lands outside the target.
//
// The reference for names and tags is pypa/packaging (packaging.utils,
// packaging.tags at 053c884); the tests replay its verdicts.
//
// It imports the standard library and internal/pypi/pep440 and pep508 only; the
// installer writes only under the directory it is given.
package wheel
