-- The generation of the BI database last published from this warehouse (0: none yet).
SELECT coalesce(max(generation), 0) FROM ops.bi_publication;
