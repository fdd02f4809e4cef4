package app_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"trostpflaster/app/apptest"
)

// browser starts headless Chromium for a test; screenshots go to
// TEST_ARTIFACTS (or a temp dir). extra adds Chromium flags.
// switchToGerman presses the language switch's DE button and waits until the
// page it posts to has loaded: without the wait the next action could find
// a node of the old page just before it went away ("Could not find node
// with given id", seen under load).
func switchToGerman() chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		_, err := chromedp.RunResponse(ctx, chromedp.Click(`.lang-switch button[value="de"]`, chromedp.ByQuery))
		return err
	})
}

func browser(t *testing.T, width, height int64, extra ...chromedp.ExecAllocatorOption) (context.Context, string) {
	t.Helper()
	exec := apptest.Require(t, "CHROMIUM_PATH")
	// Not t.TempDir(): Chromium may still be writing its profile for a moment
	// after it is told to quit, which would fail the test in cleanup.
	profile, err := os.MkdirTemp("", "tp-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exec), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(profile), chromedp.WindowSize(int(width), int(height)))
	opts = append(opts, extra...)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() {
		cancelT()
		cancelC()
		cancelA()
		for i := 0; i < 20 && os.RemoveAll(profile) != nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	})
	// Headless Chromium will not make a window narrower than 500 px: the
	// page gets the phone's width from device metrics instead.
	if err := chromedp.Run(ctx, chromedp.EmulateViewport(width, height)); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	dir := os.Getenv("TEST_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return ctx, dir
}

func screenshot(path string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		var buf []byte
		if err := chromedp.FullScreenshot(&buf, 100).Do(ctx); err != nil {
			return err
		}
		return os.WriteFile(path, buf, 0o644)
	})
}
