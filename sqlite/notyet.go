package sqlite

import "github.com/ethos-toolkit/ethos"

// notYet is the error of a store method whose tables do not exist yet.
func notYet(op string) error {
	return ethos.Errorf(ethos.Internal, "sqlite: %s: not implemented yet", op)
}
