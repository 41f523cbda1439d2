package schema

import (
	"context"
	"fmt"
	"strconv"
)

// Selecter runs a SELECT; clickhouse-go's driver.Conn satisfies it.
type Selecter interface {
	Select(ctx context.Context, dest any, query string, args ...any) error
}

// Shard is one shard of a cluster as system.clusters lists it.
type Shard struct {
	// Num is the shard's number, from 1, as _shard_num reports it.
	Num int
	// Weight is its share of the sharding key's slots; 0 receives no inserts.
	Weight int
	// Hosts are its replicas' native addresses, host:port.
	Hosts []string
}

// Name is how plans and logs name the shard: its number and replicas.
func (s Shard) Name() string {
	name := "shard " + strconv.Itoa(s.Num)
	for i, h := range s.Hosts {
		if i == 0 {
			name += " ("
		} else {
			name += ", "
		}
		name += h
	}
	if len(s.Hosts) > 0 {
		name += ")"
	}
	return name
}

// Shards lists the shards of cluster in order, as the server conn reaches
// knows them; a cluster it does not know is an error.
func Shards(ctx context.Context, conn Selecter, cluster string) ([]Shard, error) {
	var rows []struct {
		Num    uint32   `ch:"shard_num"`
		Weight uint32   `ch:"shard_weight"`
		Hosts  []string `ch:"hosts"`
	}
	if err := conn.Select(ctx, &rows, `SELECT shard_num, any(shard_weight) AS shard_weight,
		arraySort(groupArray(host_name || ':' || toString(port))) AS hosts
		FROM system.clusters WHERE cluster = ? GROUP BY shard_num ORDER BY shard_num`, cluster); err != nil {
		return nil, fmt.Errorf("listing the shards of cluster %s: %w", cluster, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("cluster %q is not in the server's remote_servers", cluster)
	}
	out := make([]Shard, len(rows))
	for i, r := range rows {
		out[i] = Shard{Num: int(r.Num), Weight: int(r.Weight), Hosts: r.Hosts}
	}
	return out, nil
}

// PatientShard returns the shard that holds a patient's documents: the one a
// Distributed table sends a row with that patient_id to, and the only one a
// patient search reads (optimize_skip_unused_shards). The server computes the
// sharding key; the slots follow ClickHouse's rule: shard i owns Weight
// consecutive slots, in shard order, and a row goes to slot key % total.
func PatientShard(ctx context.Context, conn Selecter, shards []Shard, patient int64) (Shard, error) {
	var rows []struct {
		Key uint64 `ch:"k"`
	}
	if err := conn.Select(ctx, &rows, "SELECT toUInt64("+PatientShardingKey+") AS k FROM (SELECT toInt64(?) AS patient_id)", patient); err != nil {
		return Shard{}, fmt.Errorf("computing the shard of patient %d: %w", patient, err)
	}
	if len(rows) != 1 {
		return Shard{}, fmt.Errorf("computing the shard of patient %d: %d rows", patient, len(rows))
	}
	total := 0
	for _, s := range shards {
		total += s.Weight
	}
	if total == 0 {
		return Shard{}, fmt.Errorf("no shard has a weight above 0")
	}
	slot := int(rows[0].Key % uint64(total))
	for _, s := range shards {
		if slot < s.Weight {
			return s, nil
		}
		slot -= s.Weight
	}
	panic("unreachable: slot beyond the total weight")
}
