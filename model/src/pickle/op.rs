//! The pickle opcodes the reader accepts, by their names in CPython's pickletools. Any other is refused.
/// Protocol version.
pub const PROTO: u8 = 0x80;
/// Protocol 4 frame length.
pub const FRAME: u8 = 0x95;
/// End of pickle.
pub const STOP: u8 = b'.';
/// Push a mark.
pub const MARK: u8 = b'(';
pub const EMPTY_DICT: u8 = b'}';
pub const EMPTY_LIST: u8 = b']';
pub const EMPTY_TUPLE: u8 = b')';
/// Read as a list.
pub const EMPTY_SET: u8 = 0x8f;
/// Tuple of the items since the mark.
pub const TUPLE: u8 = b't';
pub const TUPLE1: u8 = 0x85;
pub const TUPLE2: u8 = 0x86;
pub const TUPLE3: u8 = 0x87;
pub const SETITEM: u8 = b's';
pub const SETITEMS: u8 = b'u';
pub const APPEND: u8 = b'a';
pub const APPENDS: u8 = b'e';
/// Set items, read as list items.
pub const ADDITEMS: u8 = 0x90;
/// 4-byte signed int.
pub const BININT: u8 = b'J';
/// 1-byte unsigned int.
pub const BININT1: u8 = b'K';
/// 2-byte unsigned int.
pub const BININT2: u8 = b'M';
/// Little-endian two's complement of n bytes.
pub const LONG1: u8 = 0x8a;
/// 8-byte big-endian float.
pub const BINFLOAT: u8 = b'G';
pub const BINUNICODE: u8 = b'X';
pub const SHORT_BINUNICODE: u8 = 0x8c;
pub const BINUNICODE8: u8 = 0x8d;
pub const BINBYTES: u8 = b'B';
pub const SHORT_BINBYTES: u8 = b'C';
pub const NONE: u8 = b'N';
pub const NEWTRUE: u8 = 0x88;
pub const NEWFALSE: u8 = 0x89;
/// Module and name as two lines.
pub const GLOBAL: u8 = b'c';
/// Module and name from the stack.
pub const STACK_GLOBAL: u8 = 0x93;
/// Call a global with a tuple.
pub const REDUCE: u8 = b'R';
/// Read as REDUCE.
pub const NEWOBJ: u8 = 0x81;
/// Set an object's state.
pub const BUILD: u8 = b'b';
/// A persistent id: a storage.
pub const BINPERSID: u8 = b'Q';
pub const BINPUT: u8 = b'q';
pub const LONG_BINPUT: u8 = b'r';
pub const MEMOIZE: u8 = 0x94;
pub const BINGET: u8 = b'h';
pub const LONG_BINGET: u8 = b'j';
pub const POP: u8 = b'0';
