// Package pypilock locks the PyPI part of a target: it reads the recipe's package
// indexes through internal/pypi/index (project pages fetched in parallel as the
// resolver discovers names), applies the index priority rules, and runs
// internal/pypi/resolve with the target's interpreter, platform and the distributions
// the conda solve already provides.
//
// Index rules: indexes are tried in order and a name comes from the first that has
// it, so a later (public) index cannot shadow an earlier (private) one; an index with a
// packages allow-list serves only those names, and those names come only from it.
//
// It may import internal/pypi/{index,resolve,pep440,pep508,wheel} and the standard
// library.
package pypilock
