package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisStorage is a fiber.Storage on Redis, used instead of the database's
// kv table when REDIS_URL is set: rate-limit counters and CSRF tokens then
// live in Redis, shared by every instance that uses it, and expire there by
// themselves. Every key carries a prefix (REDIS_PREFIX), so several sites or
// environments can share one Redis; Reset deletes only the prefixed keys.
type redisStorage struct {
	rdb    *redis.Client
	prefix string
}

// newRedisStorage connects and pings, so a wrong REDIS_URL stops the start
// instead of failing the first log-in.
func newRedisStorage(rawURL, prefix string) (*redisStorage, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = 3*time.Second, 2*time.Second, 2*time.Second
	rdb := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("redis at %s: %w", opt.Addr, err)
	}
	return &redisStorage{rdb: rdb, prefix: prefix}, nil
}

func (s *redisStorage) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 3*time.Second)
}

func (s *redisStorage) Get(key string) ([]byte, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	b, err := s.rdb.Get(ctx, s.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	return b, err
}

func (s *redisStorage) Set(key string, val []byte, exp time.Duration) error {
	if key == "" || len(val) == 0 {
		return nil
	}
	ctx, cancel := s.ctx()
	defer cancel()
	return s.rdb.Set(ctx, s.prefix+key, val, exp).Err() // exp 0: no expiry
}

func (s *redisStorage) Delete(key string) error {
	if key == "" {
		return nil
	}
	ctx, cancel := s.ctx()
	defer cancel()
	return s.rdb.Del(ctx, s.prefix+key).Err()
}

// Reset deletes this site's keys (SCAN by prefix), never the whole database.
func (s *redisStorage) Reset() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	iter := s.rdb.Scan(ctx, 0, s.prefix+"*", 500).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			if err := s.rdb.Del(ctx, batch...).Err(); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	if len(batch) > 0 {
		return s.rdb.Del(ctx, batch...).Err()
	}
	return nil
}

func (s *redisStorage) Close() error { return s.rdb.Close() }

// ping is for /readyz.
func (s *redisStorage) ping(ctx context.Context) error { return s.rdb.Ping(ctx).Err() }
