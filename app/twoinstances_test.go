package app_test

import (
	"fmt"
	"sync"
	"testing"

	"trostpflaster/app"
	"trostpflaster/app/apptest"
	"trostpflaster/models"
)

// Two app instances on one PostgreSQL database (as behind a load balancer)
// take concurrent redemptions of one voucher: together they never take more
// than its balance, and idempotency keys hold across instances.
func TestTwoInstancesShareOneVoucher(t *testing.T) {
	t.Parallel()
	apptest.Require(t, "TEST_POSTGRES_URL")
	env := apptest.BaseEnv(t, "postgres")
	first := apptest.NewApp(t, env)
	second := apptest.NewApp(t, env)
	e := &voucherEnv{a: first}
	ctx := t.Context()
	if _, err := app.SeedDemo(ctx, first.Store, first.Places); err != nil {
		t.Fatal(err)
	}
	e.company, _ = first.Store.CompanyBySlug(ctx, "beispiel-verlag")
	e.cafe, _ = first.Store.MerchantBySlug(ctx, "cafe-rheinblick")
	e.cafeKey, _, _ = first.Store.CreateAPIKey(ctx, nil, &e.cafe.ID, "shop", models.ActorCLI)
	chefin, _ := first.Store.UserByEmail(ctx, "chefin@beispiel-verlag.example")
	e.sender = models.GiftSender{CompanyID: e.company.ID, UserID: &chefin.ID}
	g, token := e.gift(t, 50_00, e.cafe)
	code := e.claim(t, token, e.cafe)

	instances := []*voucherEnv{e, {a: second}}
	counts := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < 120; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			inst := instances[i%2]
			// Every key is sent twice, once to each instance.
			res := inst.call(t, e.cafeKey, "POST", "/api/v1/vouchers/"+code+"/redemptions", fmt.Sprintf("k-%d", i/2), redeemBody(1_00))
			mu.Lock()
			counts[res.Status]++
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	var n int64
	first.DB.Model(&models.Redemption{}).Where("gift_id = ?", g.ID).Count(&n)
	var after models.Gift
	second.DB.First(&after, g.ID)
	if n != 50 || after.BalanceCents != 0 || counts[500] > 0 || counts[201] < 50 || counts[201]+counts[409] != 120 {
		t.Fatalf("redemptions %d, balance %d, statuses %v", n, after.BalanceCents, counts)
	}
	verifyLedger(t, second.Store)
}
