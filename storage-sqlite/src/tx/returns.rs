//! Returns of delivered appointments (`appointment_returns`).

use super::*;

const RETURN_COLS: &str = "id, appointment_id, workspace_id, reason, status, actor, credit_cents, \
                           requested_at, decided_at, decision_note";

fn return_row(r: &Row<'_>) -> Result<ReturnRecord, StorageError> {
    let c = Cols::new(r, "appointment_returns");
    let status: String = c.get(4)?;
    Ok(ReturnRecord {
        id: ReturnId(c.get(0)?),
        ret: NewReturn {
            appointment_id: AppointmentId(c.get(1)?),
            workspace_id: c.get(2)?,
            reason: c.get(3)?,
            status: status
                .parse()
                .map_err(|e| corrupt(format!("appointment_returns: {e}")))?,
            actor: c.get(5)?,
            credit: Cents(c.get(6)?),
            requested_at: c.time(7)?,
            decided_at: c.time_opt(8)?,
            decision_note: c.get(9)?,
        },
    })
}

impl ReturnRepo for SqlTx<'_> {
    fn insert_return(&self, ret: &NewReturn) -> Result<Inserted<ReturnId>, StorageError> {
        let r = (|| {
            // Insert-if-absent on UNIQUE (appointment_id, workspace_id); the foreign key
            // refuses a missing appointment (Conflict). An existing return proves the
            // appointment exists.
            let created = self.one(
                "INSERT INTO appointment_returns (appointment_id, workspace_id, reason, status, \
                 actor, credit_cents, requested_at, decided_at, decision_note) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
                 ON CONFLICT (appointment_id, workspace_id) DO NOTHING RETURNING id",
                params![
                    ret.appointment_id.get(),
                    ret.workspace_id,
                    ret.reason,
                    ret.status.as_str(),
                    ret.actor,
                    ret.credit.0,
                    ts(ret.requested_at)?,
                    ts_opt(ret.decided_at)?,
                    ret.decision_note
                ],
                |r| Cols::new(r, "appointment_returns").get(0).map(ReturnId),
            )?;
            if let Some(id) = created {
                return Ok(Inserted::Created(id));
            }
            self.one(
                "SELECT id FROM appointment_returns WHERE appointment_id = ?1 AND workspace_id = ?2",
                params![ret.appointment_id.get(), ret.workspace_id],
                |r| Cols::new(r, "appointment_returns").get(0).map(ReturnId),
            )?
            .map(Inserted::Existing)
            .ok_or_else(|| StorageError::conflict("return refused by a constraint"))
        })();
        in_op(
            &format!(
                "insert_return for appointment {} and workspace {:?}",
                ret.appointment_id, ret.workspace_id
            ),
            r,
        )
    }

    fn return_record(&self, id: ReturnId) -> Result<Option<ReturnRecord>, StorageError> {
        self.one(
            &format!("SELECT {RETURN_COLS} FROM appointment_returns WHERE id = ?1"),
            [id.get()],
            return_row,
        )
    }

    fn return_for(
        &self,
        appointment_id: AppointmentId,
        workspace_id: &str,
    ) -> Result<Option<ReturnRecord>, StorageError> {
        self.one(
            &format!(
                "SELECT {RETURN_COLS} FROM appointment_returns \
                 WHERE appointment_id = ?1 AND workspace_id = ?2"
            ),
            params![appointment_id.get(), workspace_id],
            return_row,
        )
    }

    fn decide_return(
        &self,
        id: ReturnId,
        status: ReturnStatus,
        at: Timestamp,
        note: Option<&str>,
    ) -> Result<bool, StorageError> {
        let r = (|| {
            // The decision is the WHERE clause: only a pending return moves, so of two
            // deciders (in any process) exactly one sees `true`.
            let n = self.exec(
                "UPDATE appointment_returns SET status = ?2, decided_at = ?3, decision_note = ?4 \
                 WHERE id = ?1 AND status = 'pending'",
                params![id.get(), status.as_str(), ts(at)?, note],
            )?;
            if n == 1 {
                return Ok(true);
            }
            let exists = self
                .one(
                    "SELECT 1 FROM appointment_returns WHERE id = ?1",
                    [id.get()],
                    |_| Ok(()),
                )?
                .is_some();
            if exists {
                Ok(false)
            } else {
                Err(StorageError::conflict(format!(
                    "return {id} does not exist"
                )))
            }
        })();
        in_op(&format!("decide_return {id}"), r)
    }

    fn return_counts(
        &self,
        workspace_id: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<(u64, u64), StorageError> {
        // Indexes appointment_returns_workspace and billing_events_workspace.
        let counts = self.one(
            "SELECT (SELECT COUNT(*) FROM appointment_returns \
                     WHERE workspace_id = ?1 AND status <> 'denied' \
                       AND requested_at >= ?2 AND requested_at < ?3), \
                    (SELECT COUNT(*) FROM billing_events \
                     WHERE workspace_id = ?1 AND kind = 'charge' \
                       AND created_at >= ?2 AND created_at < ?3)",
            params![workspace_id, ts(from)?, ts(to)?],
            |r| {
                let c = Cols::new(r, "return_counts");
                Ok((c.count(0)?, c.count(1)?))
            },
        )?;
        Ok(counts.unwrap_or((0, 0)))
    }
}
