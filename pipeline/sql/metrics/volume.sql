-- Volume series: calls per time bucket ({bucket}: hour, day or week in the
-- tenant's zone), split by direction and disposition.
with scoped as (
    {scoped_calls}
),

final as (
    select
        {bucket} as bucket,
        direction,
        disposition,
        count(*) as calls
    from scoped
    group by all
)

select * from final
order by bucket, direction, disposition
