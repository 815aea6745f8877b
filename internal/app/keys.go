package app

import (
	"context"
	"fmt"
)

// signingKeys runs "tobira signing-keys rotate": every node signs with the
// new key within a minute, and verifies with it at once.
func (m *Main) signingKeys(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "rotate" {
		fmt.Fprint(m.Stderr, "usage: tobira signing-keys rotate [--data DIR] [--database URL]\n")
		return errUsage
	}
	f := m.flags("signing-keys rotate")
	if err := f.Parse(args[1:]); err != nil {
		return errUsage
	}
	w, _, err := m.openOperator(f)
	if err != nil {
		return err
	}
	defer w.close()
	if err := w.oidc.RotateKeys(ctx); err != nil {
		return err
	}
	fmt.Fprintln(m.Stdout, "新しい署名鍵で署名します / ID tokens are now signed with a new key")
	return nil
}
