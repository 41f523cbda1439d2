package audit_test

import (
	"os"
	"testing"

	"github.com/docsearch/docsearch/loadtest/stack/stacktest"
)

var env = stacktest.New()

func TestMain(m *testing.M) { os.Exit(env.Run(m)) }
