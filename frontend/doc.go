// Package frontend compiles a lock (and its recipe) into a BuildKit LLB graph and an image
// config. It is pure: the same input marshals to the same bytes.
package frontend
