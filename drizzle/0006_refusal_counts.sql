CREATE TABLE "refusal_counts" (
	"coupon_id" text NOT NULL,
	"minute" timestamp with time zone NOT NULL,
	"kind" text NOT NULL,
	"count" bigint NOT NULL,
	CONSTRAINT "refusal_counts_coupon_id_minute_kind_pk" PRIMARY KEY("coupon_id","minute","kind")
);
