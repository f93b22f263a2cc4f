CREATE TABLE "coupons" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"status" text NOT NULL,
	"issue_total" bigint,
	"use_total" bigint,
	"per_user_issue_limit" integer,
	"per_user_use_limit" integer,
	"issue_window_start" timestamp with time zone,
	"issue_window_end" timestamp with time zone,
	"use_window_start" timestamp with time zone,
	"use_window_end" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "gauge_operations" (
	"op_id" text PRIMARY KEY NOT NULL,
	"prefix" text NOT NULL,
	"kind" text NOT NULL,
	"idempotency_key" text NOT NULL,
	"fingerprint" text NOT NULL,
	"items" jsonb NOT NULL,
	"remains" jsonb NOT NULL,
	"scope" text NOT NULL,
	"subject" text NOT NULL,
	"ref" text,
	"amount" integer NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"restored_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "gauge_policies" (
	"prefix" text PRIMARY KEY NOT NULL,
	"open" boolean NOT NULL,
	"windows" jsonb NOT NULL,
	"limits" jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "gauges" (
	"key" text PRIMARY KEY NOT NULL,
	"prefix" text NOT NULL,
	"total" bigint NOT NULL,
	"remain" bigint NOT NULL,
	CONSTRAINT "gauges_remain_not_negative" CHECK ("gauges"."remain" >= 0)
);
--> statement-breakpoint
CREATE TABLE "ledger" (
	"op_id" text NOT NULL,
	"action" text NOT NULL,
	"scope" text NOT NULL,
	"kind" text NOT NULL,
	"subject" text NOT NULL,
	"ref" text,
	"amount" integer NOT NULL,
	"at" timestamp with time zone NOT NULL,
	CONSTRAINT "ledger_op_id_action_pk" PRIMARY KEY("op_id","action")
);
--> statement-breakpoint
CREATE TABLE "stocks" (
	"key" text PRIMARY KEY NOT NULL,
	"scope" text NOT NULL,
	"name" text NOT NULL,
	"total" bigint NOT NULL,
	"remain" bigint NOT NULL,
	"synced_at" timestamp with time zone
);
--> statement-breakpoint
CREATE INDEX "coupons_status_id_idx" ON "coupons" USING btree ("status","id");--> statement-breakpoint
CREATE UNIQUE INDEX "gauge_operations_idempotency_idx" ON "gauge_operations" USING btree ("prefix","idempotency_key");--> statement-breakpoint
CREATE INDEX "gauges_prefix_idx" ON "gauges" USING btree ("prefix");--> statement-breakpoint
CREATE INDEX "ledger_scope_kind_idx" ON "ledger" USING btree ("scope","kind");--> statement-breakpoint
CREATE INDEX "ledger_subject_idx" ON "ledger" USING btree ("subject");--> statement-breakpoint
CREATE INDEX "stocks_scope_idx" ON "stocks" USING btree ("scope");