package testutil

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// KubeAPIServer is a kube-apiserver on 127.0.0.1 backed by its own etcd, both built by
// .ci/kube.sh from their Go modules. No controller, scheduler or kubelet runs: it
// stores and validates objects, which is what a server-side dry run needs.
type KubeAPIServer struct {
	// URL is https://127.0.0.1:PORT.
	URL    string
	token  string
	client *http.Client
}

// StartKubeAPIServer starts etcd (REPROBUILD_ETCD) and kube-apiserver
// (REPROBUILD_KUBE_APISERVER) on free 127.0.0.1 ports with their data in temporary
// directories, a static bearer token in system:masters and the serving certificate the
// API server generates for itself, and waits until /readyz answers.
//
// The one service that is opt-in even in CI (a cold build of kube-apiserver takes most
// of an hour on a 2-core machine): without REPROBUILD_KUBE_APISERVER and with no
// kube-apiserver on PATH the test skips; given but broken, it fails in CI.
func StartKubeAPIServer(t testing.TB) *KubeAPIServer {
	t.Helper()
	if _, err := LookBinary("kube-apiserver", "REPROBUILD_KUBE_APISERVER"); err != nil && os.Getenv("REPROBUILD_KUBE_APISERVER") == "" {
		t.Skipf("skipping: kube-apiserver is not built (REPROBUILD_KUBE=1 bash .ci/kube.sh builds it and etcd; a cold build is long): %v", err)
	}
	etcdBin := RequireBinary(t, "etcd", "REPROBUILD_ETCD")
	apiBin := RequireBinary(t, "kube-apiserver", "REPROBUILD_KUBE_APISERVER")
	dir := t.TempDir()
	ports := make([]int, 3)
	for i := range ports {
		p, err := freePort()
		if err != nil {
			Unavailable(t, "no free port on 127.0.0.1: %v", err)
		}
		ports[i] = p
	}
	client := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	peer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	etcd, err := startService("etcd", exec.Command(etcdBin,
		"--name=test", "--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+client, "--advertise-client-urls="+client,
		"--listen-peer-urls="+peer, "--initial-advertise-peer-urls="+peer,
		"--initial-cluster=test="+peer, "--initial-cluster-state=new",
		"--listen-metrics-urls=", "--log-level=warn"))
	if err != nil {
		Unavailable(t, "starting %s: %v", etcdBin, err)
	}
	t.Cleanup(func() {
		etcd.dumpOnFailure(t)
		etcd.stop()
	})
	if err := waitHTTP(etcd, client+"/health", 60*time.Second); err != nil {
		t.Logf("etcd output:\n%s", etcd.logs.String())
		Unavailable(t, "etcd did not become ready on %s: %v", client, err)
	}

	// The service-account signing key the API server insists on, and a static token.
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, "sa.key")
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		t.Fatal(err)
	}
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		t.Fatal(err)
	}
	token := hex.EncodeToString(tok)
	tokens := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(token+",admin,admin,system:masters\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	certDir := filepath.Join(dir, "certs")
	url := fmt.Sprintf("https://127.0.0.1:%d", ports[2])
	api, err := startService("kube-apiserver", exec.Command(apiBin,
		"--etcd-servers="+client,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		// The kubernetes Service endpoint may not be a loopback address; nothing needs it.
		"--endpoint-reconciler-type=none",
		fmt.Sprintf("--secure-port=%d", ports[2]), "--cert-dir="+certDir,
		"--token-auth-file="+tokens, "--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+keyPath, "--service-account-signing-key-file="+keyPath,
		"--service-cluster-ip-range=10.96.0.0/24",
		// Without a controller manager no namespace gets its default service account.
		"--disable-admission-plugins=ServiceAccount",
		"--enable-priority-and-fairness=false",
		"--v=0"))
	if err != nil {
		Unavailable(t, "starting %s: %v", apiBin, err)
	}
	t.Cleanup(func() {
		api.dumpOnFailure(t)
		api.stop()
	})
	k := &KubeAPIServer{URL: url, token: token}
	// The serving certificate is generated at start: trust it once it is written.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for {
		if k.client == nil {
			if pemBytes, err := os.ReadFile(filepath.Join(certDir, "apiserver.crt")); err == nil {
				pool := x509.NewCertPool()
				if pool.AppendCertsFromPEM(pemBytes) {
					k.client = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
				}
			}
		}
		if k.client != nil {
			code, _, err := k.Do(http.MethodGet, "/readyz", nil)
			if err == nil && code == http.StatusOK {
				break
			}
		}
		if api.exited() {
			t.Logf("kube-apiserver output:\n%s", api.logs.String())
			Unavailable(t, "kube-apiserver exited: %v", api.err)
		}
		select {
		case <-ctx.Done():
			t.Logf("kube-apiserver output:\n%s", api.logs.String())
			Unavailable(t, "kube-apiserver did not become ready on %s", url)
		case <-time.After(250 * time.Millisecond):
		}
	}
	t.Logf("kube-apiserver %s ready on %s (etcd %s on %s)", apiBin, url, etcdBin, client)
	return k
}

// Do sends a request with the admin token; body (JSON) may be nil. It returns the
// status code and the response body.
func (k *KubeAPIServer) Do(method, path string, body []byte) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, k.URL+path, r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+k.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}
