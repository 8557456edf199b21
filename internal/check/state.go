package check

import "time"

// State is the health of a check, or of an entry (the worst of its
// checks).
type State int

// States, from best to worst. An entry is advertised while its state is
// Passing or Warning.
const (
	// Passing: the last result passed.
	Passing State = iota
	// Warning: passed before, then failed once; still advertised.
	Warning
	// Pending: no pass yet; not advertised.
	Pending
	// Critical: failed twice in a row after passing; withdrawn until it
	// passes again.
	Critical
)

// String returns "passing", "warning", "pending" or "critical".
func (s State) String() string {
	switch s {
	case Passing:
		return "passing"
	case Warning:
		return "warning"
	case Pending:
		return "pending"
	case Critical:
		return "critical"
	}
	return "unknown"
}

// Advertised reports whether an entry in state s is advertised.
func (s State) Advertised() bool { return s == Passing || s == Warning }

// failuresToWithdraw is how many failures in a row withdraw an entry.
const failuresToWithdraw = 2

// next returns the state after a result: a pass is Passing; a failure
// leaves Pending pending and turns Passing into Warning, then Critical
// once failures (in a row, counting this one) reach failuresToWithdraw.
func (s State) next(pass bool, failures int) State {
	switch {
	case pass:
		return Passing
	case s == Pending:
		return Pending
	case failures >= failuresToWithdraw:
		return Critical
	}
	return Warning
}

// CheckStatus is the state of one check of an entry.
type CheckStatus struct {
	// Spec is the check as given to Parse.
	Spec string
	// State is the check's state.
	State State
	// Failures counts the failures since the last pass.
	Failures int
	// Output is the last result's output (see Result.Output).
	Output string
	// Time is when the last result came in; zero before the first.
	Time time.Time
}

// Status is the state of an entry and its checks.
type Status struct {
	// ID is the entry's ID, as given to Runner.Add.
	ID string
	// State is the worst state among Checks (Passing with no checks).
	State State
	// Checks are in the order of Entry.Specs.
	Checks []CheckStatus
}

// worst returns the entry state of checks.
func worst(checks []CheckStatus) State {
	s := Passing
	for _, c := range checks {
		s = max(s, c.State)
	}
	return s
}
