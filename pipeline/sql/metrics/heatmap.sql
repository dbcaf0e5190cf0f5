-- Busy-hour heatmap: calls per local ISO weekday (1 = Monday) and local hour of
-- day. The repeated hour of a 25-hour day falls in its one wall-clock hour.
with scoped as (
    {scoped_calls}
),

final as (
    select
        isodow(local_start) as weekday,
        hour(local_start) as hour,
        count(*) as calls,
        count(*) filter (where is_offered) as offered,
        count(*) filter (where is_offered and not is_answered) as missed
    from scoped
    group by all
)

select * from final
order by weekday, hour
