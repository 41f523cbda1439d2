package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Client security settings that would send a password in clear, or that
// cannot work, are refused before anything connects.
func TestClientSecurityRefusesBadSettings(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		k    kafkaSecurity
		want string
	}{
		{"sasl without tls", kafkaSecurity{tls: clientTLS{mode: "off"}, mechanism: "plain", user: "u", passEnv: "p"}, "turn --kafka-tls on"},
		{"unknown mechanism", kafkaSecurity{tls: clientTLS{mode: "on"}, mechanism: "gssapi"}, "is not none"},
		{"ca with tls off", kafkaSecurity{tls: clientTLS{mode: "off", ca: notPEM}, mechanism: "none"}, "TLS is off"},
		{"bad ca", kafkaSecurity{tls: clientTLS{mode: "on", ca: notPEM}, mechanism: "none"}, "no PEM certificate"},
		{"cert without key", kafkaSecurity{tls: clientTLS{mode: "on", cert: notPEM}, mechanism: "none"}, "both a client certificate and its key"},
		{"bad mode", kafkaSecurity{tls: clientTLS{mode: "yes"}, mechanism: "none"}, "neither on nor off"},
	} {
		_, _, err := c.k.build()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	for _, ok := range []kafkaSecurity{
		{tls: clientTLS{mode: "off"}, mechanism: "none"},
		{tls: clientTLS{mode: "on"}, mechanism: "scram-sha-512", user: "u", passEnv: "p"},
	} {
		if _, _, err := ok.build(); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
	if _, err := (clickhouseConfig{addr: "x:9440", tls: clientTLS{mode: "on"}}).options("x:9440", "u", "p", "db"); err != nil {
		t.Fatal(err)
	}
}
