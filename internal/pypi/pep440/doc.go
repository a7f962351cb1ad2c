// Package pep440 implements Python package versions and version specifiers exactly as
// PEP 440 and the PyPA "version specifiers" specification define them: parsing with all
// the permitted spellings, normalisation, the total order, and specifier matching
// (~=, ==, !=, <=, >=, <, >, ===, prefix wildcards, local versions).
//
// The reference is pypa/packaging (packaging.version, packaging.specifiers at 053c884):
// the tests replay the inputs of its own test-suite with the verdicts it gives
// (../testdata/packaging). Contains is pure matching, as packaging's contains with
// prereleases=None; whether pre-releases should be offered at all is a policy question
// answered by AllowsPrereleases and left to the resolver.
//
// It is pure: standard library only, no I/O.
package pep440
