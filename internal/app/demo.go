package app

import (
	"context"
	"fmt"

	"github.com/tobira/tobira/internal/console"
	"github.com/tobira/tobira/internal/mfa"
	"github.com/tobira/tobira/internal/portal"
	"github.com/tobira/tobira/internal/secret"
	"github.com/tobira/tobira/internal/sites"
	"github.com/tobira/tobira/internal/store"
)

// Demo customers. Their passwords are printed at start: this is a demo.
var demoCustomers = []struct {
	email, name, password string
	app                   bool   // enrolled with an authenticator app already
	phone                 string // enrolled with this phone (E.164) already
}{
	{"yamada@example.jp", "山田 太郎", "tobira-demo-1", false, ""},
	{"sato@example.jp", "佐藤 花子", "tobira-demo-2", true, ""},
	{"takahashi@example.jp", "高橋 美咲", "tobira-demo-3", false, "+819012345678"},
	{"suzuki@example.jp", "鈴木 一郎", "", false, ""}, // waits for activation
}

// seedDemo creates the demo customers on the first start of a data folder and
// prints how to sign in as each.
func (m *Main) seedDemo(ctx context.Context, svc *portal.Service) error {
	existing, err := svc.Store.ListAccounts(ctx)
	if err != nil {
		return err
	}
	if len(existing) > 0 {
		fmt.Fprintf(m.Stdout, "デモの顧客 / demo customers (%d accounts: tobira users list --data %s):\n", len(existing), svc.Config.DataDir)
		for _, c := range demoCustomers {
			if c.password != "" {
				fmt.Fprintf(m.Stdout, "  %s  %s  パスワード / password: %s\n", c.name, c.email, c.password)
			}
		}
		return nil
	}
	fmt.Fprintln(m.Stdout, "デモの顧客を作成しました / demo customers created:")
	for _, c := range demoCustomers {
		a, link, err := svc.OpenAccount(ctx, c.email, c.name, "system:demo")
		if err != nil {
			return err
		}
		// Applications, contracts and invoices for the customer sites.
		if err := sites.SeedDemo(ctx, svc.Store, a.ID, svc.Now()); err != nil {
			return err
		}
		if c.password == "" {
			fmt.Fprintf(m.Stdout, "  %s  %s  パスワード未設定 / no password yet: %s\n", c.name, c.email, link)
			continue
		}
		if err := svc.SetPassword(ctx, a.ID, c.password); err != nil {
			return err
		}
		if c.phone != "" {
			if err := svc.Store.AddFactor(ctx, &store.Factor{
				ID: secret.ID(), AccountID: a.ID, Kind: store.FactorPhone, Secret: c.phone, Channel: "sms",
				LastStep: -1, CreatedAt: svc.Now(),
			}); err != nil {
				return err
			}
			code, err := svc.NewRecoveryCode(ctx, a.ID)
			if err != nil {
				return err
			}
			fmt.Fprintf(m.Stdout, "  %s  %s  パスワード / password: %s\n", c.name, c.email, c.password)
			fmt.Fprintf(m.Stdout, "      電話 / phone: %s (コードは /dev/outbox に表示 / codes appear at /dev/outbox)\n", c.phone)
			fmt.Fprintf(m.Stdout, "      リカバリーコード / recovery code: %s\n", code)
			continue
		}
		if !c.app {
			fmt.Fprintf(m.Stdout, "  %s  %s  パスワード / password: %s  (初回ログインで二要素認証を設定 / sets up 2FA at first sign-in)\n", c.name, c.email, c.password)
			continue
		}
		seed := mfa.NewTOTPSecret()
		if err := svc.Store.AddFactor(ctx, &store.Factor{
			ID: secret.ID(), AccountID: a.ID, Kind: store.FactorTOTP,
			Secret: svc.Keys.Encrypt(seed, a.ID), LastStep: -1, CreatedAt: svc.Now(),
		}); err != nil {
			return err
		}
		code, err := svc.NewRecoveryCode(ctx, a.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "  %s  %s  パスワード / password: %s\n", c.name, c.email, c.password)
		fmt.Fprintf(m.Stdout, "      認証アプリのキー / authenticator key: %s  (oathtool --totp -b %s)\n", seed, seed)
		fmt.Fprintf(m.Stdout, "      リカバリーコード / recovery code: %s\n", code)
	}
	return m.seedDemoOperators(ctx, svc)
}

// Demo operators of the console, one of each role (four-eyes needs two).
var demoOperators = []struct {
	email, name string
	role        store.OperatorRole
}{
	{"kimura@example.jp", "木村 健", store.RoleAdmin},
	{"tanaka@example.jp", "田中 美穂", store.RoleSupport},
}

const demoOperatorPassword = "tobira-operator-1"

func (m *Main) seedDemoOperators(ctx context.Context, svc *portal.Service) error {
	fmt.Fprintln(m.Stdout, "デモのオペレーター / demo operators (console):")
	for _, o := range demoOperators {
		made, err := console.CreateOperator(ctx, svc, svc.Store, o.email, o.name, o.role, demoOperatorPassword, "system:demo")
		if err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "  %s  %s (%s)  パスワード / password: %s\n", o.name, o.email, o.role, demoOperatorPassword)
		fmt.Fprintf(m.Stdout, "      認証アプリのキー / authenticator key: %s  (oathtool --totp -b %s)\n", made.TOTPSecret, made.TOTPSecret)
	}
	return nil
}
