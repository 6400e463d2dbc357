// Package execwrap is the inside half of the capsule: the logic of
// krellin-exec, the static binary that runs each agent command inside the
// container and makes sure nothing the command started outlives it.
//
// Run starts the command in a process group of its own, with krellin-exec as
// a child subreaper so that every orphaned descendant reparents to it. When
// the command exits, times out or krellin-exec is told to stop, Run kills the
// group and every descendant still around, reaps them all and returns the
// exit code for krellin-exec. Cancel finds a running krellin-exec by its
// action id and tells it to stop.
//
// Run and Cancel work on the processes of the machine they run on and are
// Linux only; the tests exercise them through the real binary.
package execwrap
