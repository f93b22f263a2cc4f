ALTER TABLE "coupons" ADD COLUMN "budget_total" bigint;--> statement-breakpoint
ALTER TABLE "coupons" ADD COLUMN "budget_currency" text;--> statement-breakpoint
ALTER TABLE "gauge_operations" ADD COLUMN "value" bigint;--> statement-breakpoint
ALTER TABLE "ledger" ADD COLUMN "value" bigint;