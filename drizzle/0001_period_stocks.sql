ALTER TABLE "coupons" ADD COLUMN "issue_period_total" bigint;--> statement-breakpoint
ALTER TABLE "coupons" ADD COLUMN "issue_period" text;--> statement-breakpoint
ALTER TABLE "coupons" ADD COLUMN "use_period_total" bigint;--> statement-breakpoint
ALTER TABLE "coupons" ADD COLUMN "use_period" text;