package jobs

import (
	"testing"

	"github.com/ethos-toolkit/ethos/internal/pgtest"
)

// TestMain stops the PostgreSQL server the tests started, if any.
func TestMain(m *testing.M) { pgtest.Main(m) }
