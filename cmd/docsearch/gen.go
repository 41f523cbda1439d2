package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/docsearch/docsearch/cdc"
	"github.com/docsearch/docsearch/loadtest/gen"
)

// runGen writes a synthetic EMR as Debezium events to Kafka or a file, and/or
// as rows into PostgreSQL.
func runGen(ctx context.Context, log *slog.Logger, args []string, _ io.Writer) error {
	fs := newFlags("gen")
	var seed, documents, patients, kafkaAddr, topic, file, pgDSN, schemas, updates, deletes string
	fs.str(&seed, "seed", "1", "seed: the same seed gives the same data")
	fs.str(&documents, "documents", "100000", "documents to create")
	fs.str(&patients, "patients", "", "patients (default: documents/200, at least 100)")
	fs.str(&kafkaAddr, "to-kafka", "", "Kafka bootstrap address to produce Debezium events to (e.g. 127.0.0.1:9092)")
	fs.str(&topic, "topic", "emr.public.documents", "topic for --to-kafka")
	fs.str(&file, "to-file", "", "file to write Debezium events to, one JSON line {key, value} each")
	fs.str(&pgDSN, "to-postgres", "", "PostgreSQL DSN to write the documents table into")
	fs.str(&schemas, "schemas", "false", "wrap events in {schema, payload} as the JSON converter with schemas does")
	fs.str(&updates, "updates", "0.10", "fraction of documents changed after creation")
	fs.str(&deletes, "deletes", "0.01", "fraction of documents deleted")
	if err := fs.parse(args); err != nil {
		return err
	}
	if kafkaAddr == "" && file == "" && pgDSN == "" {
		return errors.New("nowhere to write: give --to-kafka, --to-file and/or --to-postgres")
	}
	cfg := gen.DefaultConfig()
	var err error
	if cfg.Seed, err = strconv.ParseUint(seed, 10, 64); err != nil {
		return fmt.Errorf("--seed %q: %w", seed, err)
	}
	if cfg.Documents, err = strconv.ParseInt(documents, 10, 64); err != nil {
		return fmt.Errorf("--documents %q: %w", documents, err)
	}
	cfg.Patients = max(100, int(cfg.Documents/200))
	if patients != "" {
		if cfg.Patients, err = strconv.Atoi(patients); err != nil {
			return fmt.Errorf("--patients %q: %w", patients, err)
		}
	}
	if cfg.UpdateFraction, err = strconv.ParseFloat(updates, 64); err != nil {
		return fmt.Errorf("--updates %q: %w", updates, err)
	}
	if cfg.DeleteFraction, err = strconv.ParseFloat(deletes, 64); err != nil {
		return fmt.Errorf("--deletes %q: %w", deletes, err)
	}
	enc := cdc.EncodeOptions{Schemas: schemas == "true"}
	last := time.Now()
	cfg.Progress = func(p gen.Progress) {
		if time.Since(last) < time.Second {
			return
		}
		last = time.Now()
		fmt.Fprintf(os.Stderr, "\r%d documents, %d changes, %.0f events/s, ETA %s   ",
			p.Documents, p.Changes, p.Rate(), p.ETA().Round(time.Second))
	}
	g, err := gen.New(cfg)
	if err != nil {
		return err
	}

	var sinks []gen.Sink
	defer func() {
		for _, s := range sinks {
			if err := s.Close(context.WithoutCancel(ctx)); err != nil {
				log.Error("closing output", "err", err)
			}
		}
	}()
	if kafkaAddr != "" {
		s, err := gen.NewKafkaSink(gen.KafkaConfig{Brokers: strings.Split(kafkaAddr, ","), Topic: topic, Encoding: enc})
		if err != nil {
			return err
		}
		sinks = append(sinks, s)
	}
	if file != "" {
		s, err := gen.CreateFile(file, enc)
		if err != nil {
			return err
		}
		sinks = append(sinks, s)
	}
	if pgDSN != "" {
		s, err := gen.NewPostgresSink(ctx, pgDSN)
		if err != nil {
			return err
		}
		sinks = append(sinks, s)
	}
	start := time.Now()
	log.Info("generating", "documents", cfg.Documents, "patients", cfg.Patients, "seed", cfg.Seed, "estimated_events", g.EstimatedEvents())
	if err := g.Run(ctx, sinks...); err != nil {
		return fmt.Errorf("generating: %w", err)
	}
	fmt.Fprintln(os.Stderr)
	log.Info("generated", "documents", cfg.Documents, "took", time.Since(start).Round(time.Millisecond))
	return nil
}
