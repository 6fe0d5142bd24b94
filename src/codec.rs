//! The gRPC codec of the generated service and client: prost, with 1 KiB
//! first buffers instead of tonic's 8 KiB. A watch stream keeps its encoder's
//! buffer for as long as it is open and its events are about 1 KiB: with
//! tonic's default, `cargo bench --bench watch` measured 13.4 KiB of gateway
//! memory per open watch, with this codec 8.9 KiB. Buffers still grow for
//! larger messages.

use std::marker::PhantomData;

use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic::Status;
use tonic_prost::{ProstCodec, ProstEncoder};

/// First size of a call's encode and decode buffers.
const BUFFER_SIZE: usize = 1024;
/// Encoded bytes a stream may gather before it yields (tonic's default).
const YIELD_THRESHOLD: usize = 32 * 1024;

/// Prost with [`BUFFER_SIZE`] buffers.
#[derive(Debug)]
pub struct LeanCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for LeanCodec<T, U> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<T, U> Codec for LeanCodec<T, U>
where
    T: prost::Message + Send + 'static,
    U: prost::Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = LeanDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstCodec::<T, U>::raw_encoder(BufferSettings::new(BUFFER_SIZE, YIELD_THRESHOLD))
    }

    fn decoder(&mut self) -> Self::Decoder {
        LeanDecoder(PhantomData)
    }
}

/// Prost decoding with [`BUFFER_SIZE`] buffers; a message that does not
/// decode (invalid UTF-8, a wrong wire type, cut short) is INVALID_ARGUMENT
/// `MALFORMED_REQUEST`, not tonic's INTERNAL.
#[derive(Debug)]
pub struct LeanDecoder<U>(PhantomData<U>);

impl<U: prost::Message + Default> Decoder for LeanDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        U::decode(buf).map(Some).map_err(crate::wire::malformed)
    }

    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::new(BUFFER_SIZE, YIELD_THRESHOLD)
    }
}
