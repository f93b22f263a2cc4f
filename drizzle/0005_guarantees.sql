CREATE TABLE "gauge_adjustments" (
	"op_id" text PRIMARY KEY NOT NULL,
	"prefix" text NOT NULL,
	"key" text NOT NULL,
	"fingerprint" text NOT NULL,
	"total" bigint NOT NULL,
	"remain" bigint NOT NULL,
	"version" integer NOT NULL,
	"at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "coupons" ADD COLUMN "status_version" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "gauge_policies" ADD COLUMN "version" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "gauge_policies" ADD COLUMN "sealed" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "gauges" ADD COLUMN "version" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "stocks" ADD COLUMN "total_version" integer DEFAULT 0 NOT NULL;