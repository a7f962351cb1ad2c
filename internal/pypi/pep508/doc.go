// Package pep508 implements dependency specifiers as PEP 508 and the PyPA
// "dependency specifiers" specification define them: requirement strings
// ("name[extra] >=1 ; python_version < '3.12'"), environment markers and their
// evaluation against a target's environment, and PEP 503 name normalisation.
//
// The reference is pypa/packaging (packaging.requirements, packaging.markers,
// packaging._parser at 053c884): the tests replay its verdicts on the inputs of its own
// test-suite (../testdata/packaging).
//
// It is pure: it imports the standard library and internal/pypi/pep440 only.
package pep508
